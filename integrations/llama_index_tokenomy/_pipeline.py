"""LlamaIndex's LLM types to and from tokenomy's request pipeline.

This module is the whole of what LlamaIndex front doors know about the pipeline:
the cache identity of an LLM (:func:`llm_key`), building the
:class:`~tokenomy.pipeline.Request` of a call, sending the caller's own
``ChatMessage`` objects for what the pipeline chose to send, and the
:class:`~tokenomy.pipeline.Codec` of ``ChatResponse`` / ``CompletionResponse``
(their stream chunks are the same classes, with ``delta`` set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.llms import LLM
from typing_extensions import override

from llama_index_tokenomy._convert import model_from_payload, usage_from_response
from tokenomy.cache import Answer
from tokenomy.cache.stats import CACHE_HIT_KEY
from tokenomy.monitor import UsageRecorder
from tokenomy.pipeline import ROUTE_KEY, TRACE_KEY, Sent, Trace, jsonable, replay_pieces
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

UNCACHEABLE_KEY = "tokenomy_cacheable"
"""Set ``response.additional_kwargs[UNCACHEABLE_KEY] = False`` to keep a response out
of the cache."""

_OURS = (TRACE_KEY, ROUTE_KEY, CACHE_HIT_KEY)
_SECRET = re.compile(r"key|secret|password|auth|token(?!s$)", re.IGNORECASE)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

R = TypeVar("R", ChatResponse, CompletionResponse)
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


def with_text(message: ChatMessage, text: str) -> ChatMessage:
    """A copy of ``message`` whose text is ``text`` (images and other blocks kept)."""
    others = [b for b in message.blocks if not isinstance(b, TextBlock)]
    return message.model_copy(update={"blocks": [TextBlock(text=text), *others]})


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


# -- the codecs -------------------------------------------------------------------------


def _theirs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Provider metadata as JSON-safe values, without tokenomy's own keys."""
    return jsonable({k: v for k, v in (kwargs or {}).items() if k not in _OURS})  # type: ignore[no-any-return]


def _finish_reason(raw: Any) -> str | None:
    choices = raw.get("choices") if isinstance(raw, Mapping) else getattr(raw, "choices", None)
    if not choices:
        return None
    first = choices[0]
    reason = (
        first.get("finish_reason")
        if isinstance(first, Mapping)
        else getattr(first, "finish_reason", None)
    )
    return str(reason) if reason else None


def _joined(chunks: Sequence[Any], last_text: str) -> str:
    """The text a stream adds up to: its deltas, or the last chunk's running text."""
    deltas = [c.delta or "" for c in chunks]
    return "".join(deltas) if any(deltas) else last_text


class _Codec(Generic[R]):
    """What chat and completion responses share. One codec serves one call.

    Args:
        model: the model name of a call that nothing routes.
        ids: model names of the routed LLMs, by routing name.
    """

    def __init__(self, model: str | None, ids: Mapping[str, str | None] | None = None) -> None:
        self.model = model
        self.ids = dict(ids or {})
        self._merged: R | None = None

    def _answer(self, result: R, sent: Sent, payload: str, text: str) -> Answer:
        usage, served, _ = usage_from_response(result)
        routed = self.ids.get(sent.model) if sent.model is not None else None
        return Answer(
            payload=payload,
            text=text,
            model=served or routed or self.model,
            usage=usage,
            finish_reason=_finish_reason(result.raw),
            cacheable=(result.additional_kwargs or {}).get(UNCACHEABLE_KEY, True) is not False,
        )

    def annotate(self, result: R, trace: Trace) -> R:
        result.additional_kwargs = {**(result.additional_kwargs or {}), **trace.metadata()}
        return result

    def text_of(self, chunk: R) -> str:
        return chunk.delta or ""

    def with_text(self, result: R, text: str, finish_reason: str | None) -> R:
        """``result`` saying ``text``, its raw response's finish reason replaced."""
        old: Any = result.raw
        raw: dict[str, Any] = {"choices": [{"finish_reason": finish_reason}]}
        if isinstance(old, Mapping) and old.get("choices"):
            first = {**dict(old["choices"][0]), "finish_reason": finish_reason}
            raw = {**old, "choices": [first, *old["choices"][1:]]}
        new = self._replaced(result, text, raw)
        if result is self._merged:
            self._merged = new  # the closing chunk of a stopped stream says the kept text
        return new

    def _replaced(self, result: R, text: str, raw: Any) -> R:
        raise NotImplementedError


class ChatCodec(_Codec[ChatResponse]):
    """``ChatResponse`` (and its stream chunks) for the pipeline."""

    def answer(self, result: ChatResponse, sent: Sent) -> Answer:
        message = result.message
        content = message.content or ""
        extra = _theirs(message.additional_kwargs)
        payload = {
            "role": message.role.value,
            "content": content,
            "additional_kwargs": extra,
            "response": _theirs(result.additional_kwargs),
        }
        calls = extra.get("tool_calls")
        text = content + (json.dumps(calls, sort_keys=True) if calls else "")
        return self._answer(result, sent, json.dumps(payload), text)

    def rebuild(self, payload: str, served: str) -> ChatResponse:
        data = json.loads(payload)
        message = ChatMessage(
            role=MessageRole(data["role"]),
            content=data["content"],
            additional_kwargs=data.get("additional_kwargs") or {},
        )
        return ChatResponse(
            message=message,
            delta=data["content"],
            additional_kwargs={**(data.get("response") or {}), CACHE_HIT_KEY: served},
        )

    def merge(self, chunks: Sequence[ChatResponse]) -> ChatResponse:
        last = chunks[-1]
        message = ChatMessage(
            role=last.message.role,
            content=_joined(chunks, last.message.content or ""),
            additional_kwargs=dict(last.message.additional_kwargs or {}),
        )
        self._merged = ChatResponse(
            message=message, raw=last.raw, additional_kwargs=dict(last.additional_kwargs or {})
        )
        return self._merged

    def replay(self, result: ChatResponse) -> Iterator[ChatResponse]:
        """A finished answer as stream chunks: a word at a time, running text in
        ``message.content``, the answer's metadata on each."""
        text = ""
        for piece in replay_pieces(result.message.content or ""):
            text += piece
            message = ChatMessage(
                role=result.message.role,
                content=text,
                additional_kwargs=result.message.additional_kwargs,
            )
            yield ChatResponse(
                message=message, delta=piece, additional_kwargs=result.additional_kwargs
            )

    @override
    def _replaced(self, result: ChatResponse, text: str, raw: Any) -> ChatResponse:
        message = with_text(result.message, text)
        return result.model_copy(update={"message": message, "raw": raw})

    def last_chunk(self, trace: Trace) -> ChatResponse:
        """A closing chunk (empty delta) with the whole answer and the trace."""
        merged = self._merged
        if merged is None:
            merged = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=""))
        return ChatResponse(
            message=merged.message,
            delta="",
            raw=merged.raw,
            additional_kwargs={**merged.additional_kwargs, **trace.metadata()},
        )


class CompletionCodec(_Codec[CompletionResponse]):
    """``CompletionResponse`` (and its stream chunks) for the pipeline."""

    def answer(self, result: CompletionResponse, sent: Sent) -> Answer:
        payload = {"text": result.text, "additional_kwargs": _theirs(result.additional_kwargs)}
        return self._answer(result, sent, json.dumps(payload), result.text)

    def rebuild(self, payload: str, served: str) -> CompletionResponse:
        data = json.loads(payload)
        text = data["text"]
        return CompletionResponse(
            text=text,
            delta=text,
            additional_kwargs={**(data.get("additional_kwargs") or {}), CACHE_HIT_KEY: served},
        )

    def merge(self, chunks: Sequence[CompletionResponse]) -> CompletionResponse:
        last = chunks[-1]
        self._merged = CompletionResponse(
            text=_joined(chunks, last.text),
            raw=last.raw,
            additional_kwargs=dict(last.additional_kwargs or {}),
        )
        return self._merged

    def replay(self, result: CompletionResponse) -> Iterator[CompletionResponse]:
        text = ""
        for piece in replay_pieces(result.text):
            text += piece
            yield CompletionResponse(
                text=text, delta=piece, additional_kwargs=result.additional_kwargs
            )

    @override
    def _replaced(self, result: CompletionResponse, text: str, raw: Any) -> CompletionResponse:
        return result.model_copy(update={"text": text, "raw": raw})

    def last_chunk(self, trace: Trace) -> CompletionResponse:
        merged = self._merged if self._merged is not None else CompletionResponse(text="")
        return CompletionResponse(
            text=merged.text,
            delta="",
            raw=merged.raw,
            additional_kwargs={**merged.additional_kwargs, **trace.metadata()},
        )
