"""Translating LangChain run data (messages, metadata, results) into tokenomy's types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import LLMResult

from tokenomy.cache.stats import CACHE_HIT_KEY
from tokenomy.tokens import TokenUsage, parse_usage

__all__ = [
    "CACHE_HIT_KEY",
    "model_from_run",
    "model_id_of",
    "tags_from_run",
    "to_openai_messages",
    "usage_from_result",
]

_SKIP_METADATA_PREFIXES = ("ls_", "langgraph_", "checkpoint_", "lc_", "__")
_INTERNAL_TAG_PREFIXES = ("seq:", "map:", "graph:", "langsmith:")  # LangChain's own run tags


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as OpenAI chat dicts (what tokenomy's counter reads)."""
    return list(convert_to_openai_messages(list(messages)))


def model_id_of(model: Any) -> str | None:
    """The model name a LangChain model object was configured with, if it has one."""
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def model_from_run(
    serialized: Mapping[str, Any] | None,
    invocation_params: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
) -> str | None:
    """The requested model name of a run, from the most specific source available."""
    for key in ("model", "model_name", "model_id", "deployment_name"):
        value = invocation_params.get(key)
        if isinstance(value, str) and value:
            return value
    name = (metadata or {}).get("ls_model_name")
    if isinstance(name, str) and name:
        return name
    kwargs = (serialized or {}).get("kwargs") or {}
    for key in ("model", "model_name"):
        value = kwargs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def tags_from_run(tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """Record tags from run metadata (scalar values) and ``"key:value"`` run tags."""
    out: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if key.startswith(_SKIP_METADATA_PREFIXES) or isinstance(value, Mapping | list | tuple):
            continue
        if value is not None:
            out[key] = str(value)
    plain = []
    for tag in tags or ():
        if tag.startswith(_INTERNAL_TAG_PREFIXES):
            continue
        for sep in (":", "="):
            if sep in tag:
                key, _, value = tag.partition(sep)
                out[key.strip()] = value.strip()
                break
        else:
            plain.append(tag)
    if plain:
        out.setdefault("tags", ",".join(sorted(set(plain))))
    return out


def usage_from_result(
    response: LLMResult, message: BaseMessage | None
) -> tuple[TokenUsage | None, str | None]:
    """Provider usage of a result, and the cache marker if it was served from a cache.

    Returns:
        ``(usage or None, marker)`` where ``marker`` is None for a real call, ``""``
        for LangChain's own LLM cache, or the technique tokenomy's cache recorded.
    """
    marker: str | None = None
    usage: TokenUsage | None = None
    if isinstance(message, AIMessage):
        ours = (message.response_metadata or {}).get(CACHE_HIT_KEY)
        if ours:
            marker = str(ours)
        um = message.usage_metadata
        if um:
            if marker is None and um.get("total_cost") == 0:
                marker = ""  # LangChain >= 1.8 marks its cache hits this way
            usage = parse_usage(um)
    if marker is None and response.generations and response.generations[0]:
        info = response.generations[0][0].generation_info or {}
        if info.get(CACHE_HIT_KEY):
            marker = str(info[CACHE_HIT_KEY])
    if usage is None:
        out = response.llm_output or {}
        usage = parse_usage(out.get("token_usage") or out.get("usage"))
    return usage, marker
