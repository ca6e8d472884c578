"""Token usage records that add up, and a parser for the usage shapes providers return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["UNATTRIBUTED", "TokenCount", "TokenUsage", "parse_usage"]

UNATTRIBUTED = "unattributed"
"""Bucket name for usage whose model (or tag) is not known. Nothing is dropped."""


class TokenCount(NamedTuple):
    """The result of counting a text or a list of chat messages.

    An immutable named tuple rather than a frozen dataclass: it is built on every
    count, and a tuple is built about twice as fast, which matters when counting
    short texts (see benchmarks/tokens_throughput.py).

    Attributes:
        tokens: the count.
        model: the model the count is for (None when not given).
        tokenizer: which tokenizer produced it, e.g. ``"o200k_base"``.
        exact: True when it equals what the provider bills; False for an estimate.
    """

    tokens: int
    model: str | None
    tokenizer: str
    exact: bool

    def __int__(self) -> int:
        return self.tokens

    def __index__(self) -> int:
        return self.tokens


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one or more LLM calls; ``a + b`` adds field by field.

    ``input_tokens`` includes ``cached_input_tokens`` and the cache writes, and
    ``output_tokens`` includes ``reasoning_tokens``, as in OpenAI's and LangChain's
    usage records. ``cache_write_tokens`` are input tokens written to a provider's
    prompt cache (Anthropic bills them at 1.25x the input price), and
    ``cache_write_1h_tokens`` those written with a 1-hour lifetime (2x).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )


def _int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def parse_usage(raw: Any) -> TokenUsage | None:
    """Read a provider's usage block into a :class:`TokenUsage`.

    Understands OpenAI Chat Completions (``prompt_tokens``/``completion_tokens`` with
    ``*_details``), OpenAI Responses and LangChain ``UsageMetadata``
    (``input_tokens``/``output_tokens`` with ``input_token_details.cache_read``),
    Anthropic's raw usage (cache reads and writes reported beside ``input_tokens``,
    1-hour writes apart), and Gemini's usage in the Python SDK's shape
    (``prompt_token_count``…) and the REST / Vertex shape (``promptTokenCount``…).
    Mappings and objects with those attributes both work.

    Returns:
        None when ``raw`` carries no recognisable token counts.
    """
    if raw is None:
        return None
    prompt = _get(raw, "prompt_tokens")
    if prompt is not None:  # OpenAI Chat Completions
        pdet = _get(raw, "prompt_tokens_details") or {}
        cdet = _get(raw, "completion_tokens_details") or {}
        return TokenUsage(
            _int(prompt),
            _int(_get(raw, "completion_tokens")),
            _int(_get(pdet, "cached_tokens")),
            _int(_get(cdet, "reasoning_tokens")),
        )
    for prompt_key, candidates, thoughts, cached_key in (
        (
            "prompt_token_count",
            "candidates_token_count",
            "thoughts_token_count",
            "cached_content_token_count",
        ),  # Gemini, Python SDK
        (
            "promptTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
            "cachedContentTokenCount",
        ),  # Gemini REST and Vertex AI
    ):
        gemini = _get(raw, prompt_key)
        if gemini is not None:
            thought = _int(_get(raw, thoughts))
            return TokenUsage(
                _int(gemini),
                _int(_get(raw, candidates)) + thought,
                _int(_get(raw, cached_key)),
                thought,
            )
    inp = _get(raw, "input_tokens")
    if inp is None:
        return None
    out = _int(_get(raw, "output_tokens"))
    anthropic_read = _get(raw, "cache_read_input_tokens")
    if anthropic_read is not None or _get(raw, "cache_creation_input_tokens") is not None:
        # Anthropic reports cache reads and writes *beside* input_tokens.
        read = _int(anthropic_read)
        write = _int(_get(raw, "cache_creation_input_tokens"))
        one_hour = _int(_get(_get(raw, "cache_creation") or {}, "ephemeral_1h_input_tokens"))
        return TokenUsage(_int(inp) + read + write, out, read, 0, write - one_hour, one_hour)
    idet = _get(raw, "input_token_details") or _get(raw, "input_tokens_details") or {}
    odet = _get(raw, "output_token_details") or _get(raw, "output_tokens_details") or {}
    cached = _get(idet, "cache_read")
    if cached is None:
        cached = _get(idet, "cached_tokens")
    reasoning = _get(odet, "reasoning")
    if reasoning is None:
        reasoning = _get(odet, "reasoning_tokens")
    # LangChain's UsageMetadata for Anthropic: writes under input_token_details
    one_hour = _int(_get(idet, "ephemeral_1h_input_tokens"))
    write = (
        _int(_get(idet, "cache_creation"))
        or _int(_get(idet, "ephemeral_5m_input_tokens")) + one_hour
    )
    return TokenUsage(_int(inp), out, _int(cached), _int(reasoning), write - one_hour, one_hour)
