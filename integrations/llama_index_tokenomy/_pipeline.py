"""LlamaIndex's LLM types to and from tokenomy's request pipeline.

This module is what LlamaIndex front doors know about the pipeline: the cache
identity of an LLM (:func:`llm_key`), building the :class:`~tokenomy.pipeline.Request`
of a call, and sending the caller's own ``ChatMessage`` objects for what the pipeline
chose to send. The :class:`~tokenomy.pipeline.Codec` of ``ChatResponse`` /
``CompletionResponse`` is in :mod:`llama_index_tokenomy._codecs` (re-exported here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole
from llama_index.core.llms import LLM

from llama_index_tokenomy._codecs import UNCACHEABLE_KEY, ChatCodec, CompletionCodec
from llama_index_tokenomy._convert import model_from_payload, with_text
from tokenomy.cache.stats import CACHE_HIT_KEY
from tokenomy.monitor import UsageRecorder
from tokenomy.pipeline import ROUTE_KEY, Sent
from tokenomy.pipeline import own_messages as core_own_messages
from tokenomy.route import ModelTable
from tokenomy.tokens.prices import PriceTable

__all__ = [
    "CACHE_HIT_KEY",
    "ROUTE_KEY",
    "UNCACHEABLE_KEY",
    "ChatCodec",
    "CompletionCodec",
    "HitRecorder",
    "llm_key",
    "model_id",
    "needs",
    "own_messages",
    "sent_messages",
    "table_for",
    "tools_of",
    "with_text",
]

_SECRET = re.compile(r"key|secret|password|auth|token(?!s$)", re.IGNORECASE)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_INSERTED = {"assistant": MessageRole.ASSISTANT, "user": MessageRole.USER}


# -- the request ----------------------------------------------------------------------


def _public(value: Any) -> Any:
    """``value`` without secrets: mapping entries whose name says key, secret, token,
    password or auth (counts such as ``max_tokens`` stay), at any depth."""
    if isinstance(value, Mapping):
        return {
            str(k): _public(v)
            for k, v in value.items()
            if not _SECRET.search(str(k)) and k != "callback_manager"
        }
    if isinstance(value, list | tuple):
        return [_public(v) for v in value]
    return value


def _config(llm: LLM) -> Any:
    try:
        return _public(llm.to_dict())
    except Exception:  # an LLM whose fields do not serialize: its class and metadata
        return {"metadata": llm.metadata.model_dump(mode="json")}


def llm_key(llms: Mapping[str, LLM] | LLM, kind: str, kwargs: Mapping[str, Any]) -> str:
    """The identity of a call's LLM (or LLMs) and parameters, which partitions the
    cache: the whole configuration with nested values, secrets left out."""
    if isinstance(llms, LLM):
        config: Any = [llms.class_name(), _config(llms)]
    else:
        config = {name: [llm.class_name(), _config(llm)] for name, llm in llms.items()}
    text = json.dumps([kind, config, _public(dict(kwargs))], sort_keys=True, default=str)
    return _ADDRESS.sub("", text)  # object reprs: stable across processes


def model_id(llm: LLM) -> str | None:
    """The model name an LLM calls, for prices and token counts."""
    try:
        name = model_from_payload(llm.to_dict()) or llm.metadata.model_name
    except Exception:
        return None
    return None if not name or name == "unknown" else name


def tools_of(kwargs: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    """The tool schemas of a call (LlamaIndex passes OpenAI-style ``tools=[...]``)."""
    tools = kwargs.get("tools")
    if isinstance(tools, Sequence) and tools and all(isinstance(t, Mapping) for t in tools):
        return tuple(tools)
    return None


def needs(messages: Sequence[ChatMessage], tools: bool) -> frozenset[str]:
    """The capabilities a call needs of the model that answers it."""
    out = {"tools"} if tools else set()
    if any(isinstance(b, ImageBlock) for m in messages for b in m.blocks):
        out.add("vision")
    return frozenset(out)


def sent_messages(messages: Sequence[ChatMessage], sent: Sent) -> list[ChatMessage]:
    """The caller's own messages for what the pipeline sends."""
    return sent.own(messages, shorten=with_text, insert=_inserted)


def own_messages(
    messages: Sequence[ChatMessage],
    dicts: Sequence[Mapping[str, Any]],
    chosen: Sequence[Mapping[str, Any]],
    origins: Sequence[int | None],
) -> list[ChatMessage]:
    """``messages`` as a context stage chose them (:func:`tokenomy.pipeline.own_messages`):
    a shortened message keeps its other blocks; an inserted one keeps its role."""
    return core_own_messages(messages, dicts, chosen, origins, shorten=with_text, insert=_inserted)


def _inserted(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=_INSERTED.get(role, MessageRole.SYSTEM), content=text)


def table_for(llms: Mapping[str, LLM], *, prices: PriceTable | None = None) -> ModelTable:
    """A model table for LlamaIndex LLMs, priced by their model names."""
    return ModelTable.from_model_ids(
        {name: model_id(llm) for name, llm in llms.items()}, prices=prices
    )


class HitRecorder:
    """Where cache hits are recorded as saved: ``recorder``, else the recorder of the
    handler :func:`llama_index_tokenomy.enable` attached (looked up at each hit)."""

    def __init__(self, recorder: UsageRecorder | None, scope: str | None) -> None:
        self.recorder = recorder
        self.scope = scope

    def record_call(self, **fields: Any) -> None:
        recorder = self.recorder
        if recorder is None:
            from llama_index_tokenomy.events import enabled_handler

            handler = enabled_handler()
            recorder = handler.recorder if handler is not None else None
        if recorder is not None:
            if self.scope:
                fields["tags"] = {"scope": self.scope, **(fields.get("tags") or {})}
            recorder.record_call(**fields)
