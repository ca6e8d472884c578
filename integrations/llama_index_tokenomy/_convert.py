"""Translating LlamaIndex LLM payloads and responses into tokenomy's types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, TextBlock

from tokenomy.tokens import TokenUsage, parse_usage

__all__ = ["model_from_payload", "to_openai_messages", "usage_from_response", "with_text"]


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def model_from_payload(model_dict: Mapping[str, Any] | None) -> str | None:
    """The model name in an LLM's ``to_payload()`` dict."""
    for key in ("model", "model_name", "engine", "deployment_name"):
        value = (model_dict or {}).get(key)
        if isinstance(value, str) and value and value != "unknown":
            return value
    return None


def to_openai_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """LlamaIndex ``ChatMessage`` objects as OpenAI chat dicts."""
    out = []
    for m in messages:
        role = getattr(m.role, "value", m.role)
        msg: dict[str, Any] = {"role": str(role), "content": m.content or ""}
        tool_calls = (m.additional_kwargs or {}).get("tool_calls")
        if tool_calls:
            msg["tool_calls"] = [
                tc if isinstance(tc, Mapping) else tc.model_dump() for tc in tool_calls
            ]
        out.append(msg)
    return out


def usage_from_response(response: Any) -> tuple[TokenUsage | None, str | None, str]:
    """Provider usage, served model name and output text of a Chat/CompletionResponse."""
    if response is None:
        return None, None, ""
    raw = getattr(response, "raw", None)
    usage = parse_usage(_get(raw, "usage")) if raw is not None else None
    if usage is None and raw is not None:
        usage = parse_usage(_get(raw, "usage_metadata"))
    if usage is None:
        usage = parse_usage(getattr(response, "additional_kwargs", None) or None)
    model = _get(raw, "model") if raw is not None else None
    message = getattr(response, "message", None)
    text = message.content if message is not None else getattr(response, "text", "")
    return usage, model if isinstance(model, str) and model else None, text or ""


def with_text(message: ChatMessage, text: str) -> ChatMessage:
    """A copy of ``message`` whose text is ``text`` (images and other blocks kept)."""
    others = [b for b in message.blocks if not isinstance(b, TextBlock)]
    return message.model_copy(update={"blocks": [TextBlock(text=text), *others]})
