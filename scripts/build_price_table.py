"""Build tokenomy's bundled price table from tokencost's model_prices.json.

Usage:
    python scripts/build_price_table.py ../shared/eval-data/tokencost/model_prices.json

Writes core/tokenomy/tokens/data/prices.json. The source is AgentOps-AI/tokencost
(MIT) @ e7f7c1928084af55bb4955102327982401ed8649, itself a copy of BerriAI/litellm's
model_prices_and_context_window.json (MIT). Prices are converted from USD per token
to USD per million tokens, and only the current chat models listed below are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SOURCE = (
    "AgentOps-AI/tokencost@e7f7c1928084af55bb4955102327982401ed8649 "
    "tokencost/model_prices.json (MIT), from BerriAI/litellm "
    "model_prices_and_context_window.json (MIT)"
)
AS_OF = "2025-09-15"

# (our name, key in the source, aliases)
SELECTION: list[tuple[str, str, list[str]]] = [
    # OpenAI
    ("gpt-5", "gpt-5", ["gpt-5-2025-08-07"]),
    ("gpt-5-mini", "gpt-5-mini", ["gpt-5-mini-2025-08-07"]),
    ("gpt-5-nano", "gpt-5-nano", ["gpt-5-nano-2025-08-07"]),
    ("gpt-5-chat-latest", "gpt-5-chat-latest", ["gpt-5-chat"]),
    ("gpt-4.1", "gpt-4.1", ["gpt-4.1-2025-04-14"]),
    ("gpt-4.1-mini", "gpt-4.1-mini", ["gpt-4.1-mini-2025-04-14"]),
    ("gpt-4.1-nano", "gpt-4.1-nano", ["gpt-4.1-nano-2025-04-14"]),
    ("gpt-4o", "gpt-4o", ["gpt-4o-2024-08-06", "gpt-4o-2024-11-20"]),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13", []),
    ("gpt-4o-mini", "gpt-4o-mini", ["gpt-4o-mini-2024-07-18"]),
    ("chatgpt-4o-latest", "chatgpt-4o-latest", []),
    ("o1", "o1", ["o1-2024-12-17"]),
    ("o1-mini", "o1-mini", ["o1-mini-2024-09-12"]),
    ("o3", "o3", ["o3-2025-04-16"]),
    ("o3-mini", "o3-mini", ["o3-mini-2025-01-31"]),
    ("o4-mini", "o4-mini", ["o4-mini-2025-04-16"]),
    ("gpt-4-turbo", "gpt-4-turbo", ["gpt-4-turbo-2024-04-09"]),
    ("gpt-4-1106-preview", "gpt-4-1106-preview", ["gpt-4-0125-preview", "gpt-4-turbo-preview"]),
    ("gpt-4", "gpt-4", ["gpt-4-0613"]),
    ("gpt-4-32k", "gpt-4-32k", ["gpt-4-32k-0613"]),
    ("gpt-3.5-turbo", "gpt-3.5-turbo", ["gpt-3.5-turbo-0125"]),
    ("gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106", []),
    # Anthropic
    ("claude-opus-4-1-20250805", "claude-opus-4-1-20250805", ["claude-opus-4-1"]),
    ("claude-opus-4-20250514", "claude-opus-4-20250514", ["claude-opus-4", "claude-4-opus"]),
    (
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-20250514",
        ["claude-sonnet-4", "claude-4-sonnet"],
    ),
    (
        "claude-3-7-sonnet-20250219",
        "claude-3-7-sonnet-20250219",
        ["claude-3-7-sonnet-latest", "claude-3-7-sonnet"],
    ),
    (
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet-20241022",
        ["claude-3-5-sonnet-latest", "claude-3-5-sonnet"],
    ),
    (
        "claude-3-5-haiku-20241022",
        "claude-3-5-haiku-20241022",
        ["claude-3-5-haiku-latest", "claude-3-5-haiku"],
    ),
    ("claude-3-haiku-20240307", "claude-3-haiku-20240307", ["claude-3-haiku"]),
    ("claude-3-opus-20240229", "claude-3-opus-20240229", ["claude-3-opus-latest", "claude-3-opus"]),
    # Google
    ("gemini-2.5-pro", "gemini-2.5-pro", []),
    ("gemini-2.5-flash", "gemini-2.5-flash", []),
    ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite", []),
    ("gemini-2.0-flash", "gemini-2.0-flash", ["gemini-2.0-flash-001"]),
    ("gemini-2.0-flash-lite", "gemini-2.0-flash-lite", ["gemini-2.0-flash-lite-001"]),
    ("gemini-1.5-pro", "gemini-1.5-pro", ["gemini-1.5-pro-002"]),
    ("gemini-1.5-flash", "gemini-1.5-flash", ["gemini-1.5-flash-002"]),
    # Mistral
    ("mistral-large-latest", "mistral/mistral-large-latest", ["mistral-large"]),
    ("mistral-medium-latest", "mistral/mistral-medium-latest", ["mistral-medium"]),
    ("mistral-small-latest", "mistral/mistral-small-latest", ["mistral-small"]),
    ("codestral-latest", "mistral/codestral-latest", ["codestral"]),
    ("magistral-medium-latest", "mistral/magistral-medium-latest", ["magistral-medium"]),
    ("open-mistral-nemo", "mistral/open-mistral-nemo", ["mistral-nemo"]),
    (
        "open-mixtral-8x7b",
        "mistral/open-mixtral-8x7b",
        ["mixtral-8x7b", "mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"],
    ),
    ("open-mixtral-8x22b", "mistral/open-mixtral-8x22b", ["mixtral-8x22b"]),
    # DeepSeek
    ("deepseek-chat", "deepseek/deepseek-chat", ["deepseek-v3"]),
    ("deepseek-reasoner", "deepseek/deepseek-reasoner", ["deepseek-r1"]),
    # xAI
    ("grok-3", "xai/grok-3", []),
    ("grok-3-mini", "xai/grok-3-mini", []),
    ("grok-4", "xai/grok-4", ["grok-4-0709"]),
    # Cohere
    ("command-r", "command-r", ["command-r-08-2024"]),
    ("command-r-plus", "command-r-plus", ["command-r-plus-08-2024"]),
    # Hosted open-weight models (price depends on the host; these are Groq's)
    ("groq/llama-3.1-8b-instant", "groq/llama-3.1-8b-instant", ["llama-3.1-8b-instant"]),
    (
        "groq/llama-3.3-70b-versatile",
        "groq/llama-3.3-70b-versatile",
        ["llama-3.3-70b-versatile"],
    ),
    ("groq/qwen/qwen3-32b", "groq/qwen/qwen3-32b", ["qwen3-32b"]),
]


def _per_million(value: object) -> float | None:
    if value is None:
        return None
    return round(float(value) * 1_000_000, 6)  # type: ignore[arg-type]


def build(source_path: Path) -> dict[str, object]:
    src = json.loads(source_path.read_text())
    models: dict[str, object] = {}
    missing = []
    for name, key, aliases in SELECTION:
        entry = src.get(key)
        if entry is None or entry.get("input_cost_per_token") is None:
            missing.append(key)
            continue
        models[name] = {
            "provider": entry.get("litellm_provider"),
            "input": _per_million(entry.get("input_cost_per_token")),
            "cached_input": _per_million(entry.get("cache_read_input_token_cost")),
            "output": _per_million(entry.get("output_cost_per_token")),
            "context_window": entry.get("max_input_tokens") or entry.get("max_tokens"),
            "max_output_tokens": entry.get("max_output_tokens"),
            "supports_tools": bool(entry.get("supports_function_calling")),
            "supports_vision": bool(entry.get("supports_vision")),
            "supports_json": bool(entry.get("supports_response_schema")),
            "aliases": aliases,
        }
    if missing:
        raise SystemExit(f"missing from source: {missing}")
    return {
        "as_of": AS_OF,
        "currency": "USD",
        "unit": "per 1M tokens",
        "source": SOURCE,
        "models": models,
    }


def main() -> None:
    src = Path(
        sys.argv[1] if len(sys.argv) > 1 else "../shared/eval-data/tokencost/model_prices.json"
    )
    out = Path(__file__).resolve().parents[1] / "core/tokenomy/tokens/data/prices.json"
    table = build(src)
    out.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(table['models'])} models to {out}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
