"""The :class:`~tokenomy.pipeline.Codec` of LlamaIndex's ``ChatResponse`` and
``CompletionResponse`` (their stream chunks are the same classes, with ``delta`` set):
what to store and charge, a response rebuilt from a stored answer, a stream merged,
a finished answer replayed as a stream."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
)
from typing_extensions import override

from llama_index_tokenomy._convert import usage_from_response, with_text
from tokenomy.cache import Answer
from tokenomy.cache.stats import CACHE_HIT_KEY
from tokenomy.pipeline import ROUTE_KEY, TRACE_KEY, Sent, Trace, jsonable, replay_pieces

__all__ = ["UNCACHEABLE_KEY", "ChatCodec", "CompletionCodec"]

UNCACHEABLE_KEY = "tokenomy_cacheable"
"""Set ``response.additional_kwargs[UNCACHEABLE_KEY] = False`` to keep a response out
of the cache."""

_OURS = (TRACE_KEY, ROUTE_KEY, CACHE_HIT_KEY)

R = TypeVar("R", ChatResponse, CompletionResponse)


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
