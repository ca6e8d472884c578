"""LangChain's chat types to and from tokenomy's request pipeline.

This module is the whole of what LangChain front doors know about the pipeline:
building a :class:`~tokenomy.pipeline.Request` from a chat call, sending the
caller's own message objects for what the pipeline chose to send, and a
:class:`~tokenomy.pipeline.Codec` for ``ChatResult`` / ``ChatGenerationChunk``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_openai_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_tokenomy._cache_convert import answer_from_generations, generations_from_payload
from tokenomy.cache import Answer
from tokenomy.pipeline import ROUTE_KEY, Sent, Trace, replay_pieces
from tokenomy.text.messages import message_text

__all__ = [
    "ROUTE_KEY",
    "SESSION_KEYS",
    "ChatCodec",
    "as_dict",
    "needs",
    "sent_messages",
    "session_of",
]


SESSION_KEYS = ("session_id", "thread_id", "conversation_id")
"""Run-metadata (or ``configurable``) keys read, in order, as the conversation's id."""


def as_dict(message: BaseMessage) -> dict[str, Any]:
    """One LangChain message as one OpenAI-style dict (a message LangChain would split
    in two, tool results inside a human message, stays one unit)."""
    converted = convert_to_openai_messages([message])
    if len(converted) == 1:
        return dict(converted[0])
    return {
        "role": converted[0].get("role", "user"),
        "content": "\n".join(message_text(m) for m in converted),
    }


def session_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The conversation id in a run's metadata, if any."""
    for key in SESSION_KEYS:
        value = (metadata or {}).get(key)
        if value is not None:
            return str(value)
    return None


def needs(messages: Sequence[BaseMessage], tools: bool) -> frozenset[str]:
    """The capabilities a call needs of the model that answers it."""
    out = {"tools"} if tools else set()
    for m in messages:
        if isinstance(m.content, list) and any(
            isinstance(b, dict) and b.get("type") in ("image", "image_url") for b in m.content
        ):
            out.add("vision")
    return frozenset(out)


def sent_messages(messages: Sequence[BaseMessage], sent: Sent) -> list[BaseMessage]:
    """The caller's own message objects for what the pipeline sends: a shortened
    message is a copy with the new content; an inserted one is a message of its role
    (a summary is a system message; a continuation, an AI then a human message)."""
    return sent.own(
        messages,
        shorten=lambda m, text: m.model_copy(update={"content": text}),
        insert=lambda role, text: _INSERTED.get(role, SystemMessage)(content=text),
    )


_INSERTED: dict[str, type[BaseMessage]] = {"assistant": AIMessage, "user": HumanMessage}


class ChatCodec:
    """``ChatResult`` and ``ChatGenerationChunk`` for the pipeline.

    Args:
        llm_string: the model's identity, for the stored answer's model name.
    """

    def __init__(self, llm_string: str) -> None:
        self.llm_string = llm_string

    def answer(self, result: ChatResult, sent: Sent) -> Answer:
        return answer_from_generations(result.generations, self.llm_string)

    def rebuild(self, payload: str, served: str) -> ChatResult:
        return ChatResult(generations=generations_from_payload(payload, served))

    def merge(self, chunks: Sequence[ChatGenerationChunk]) -> ChatResult:
        total = chunks[0]
        for chunk in chunks[1:]:
            total += chunk
        message = total.message
        ai = AIMessage(
            content=message.content,
            tool_calls=getattr(message, "tool_calls", []) or [],
            usage_metadata=getattr(message, "usage_metadata", None),
            response_metadata=message.response_metadata,
            additional_kwargs=message.additional_kwargs,
        )
        return ChatResult(
            generations=[ChatGeneration(message=ai, generation_info=total.generation_info)]
        )

    def replay(self, result: ChatResult) -> Iterator[ChatGenerationChunk]:
        """A finished answer as stream chunks: words, then a last chunk with metadata."""
        message = result.generations[0].message
        content = message.content
        calls = getattr(message, "tool_calls", None) or []
        usage = getattr(message, "usage_metadata", None)
        if isinstance(content, str) and not calls:
            for piece in replay_pieces(content):
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            content = ""
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=content,
                tool_call_chunks=[
                    {
                        "name": c["name"],
                        "args": json.dumps(c["args"]),
                        "id": c.get("id"),
                        "index": i,
                        "type": "tool_call_chunk",
                    }
                    for i, c in enumerate(calls)
                ],
                usage_metadata=usage,
                response_metadata=message.response_metadata,
                chunk_position="last",
            )
        )

    def annotate(self, result: ChatResult, trace: Trace) -> ChatResult:
        extra = trace.metadata()
        for generation in result.generations:
            message = generation.message
            message.response_metadata = {**(message.response_metadata or {}), **extra}
        return result

    def last_chunk(self, trace: Trace) -> ChatGenerationChunk:
        return ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata=trace.metadata())
        )

    def text_of(self, chunk: ChatGenerationChunk) -> str:
        return chunk.text

    def with_text(self, result: ChatResult, text: str, finish_reason: str | None) -> ChatResult:
        """``result`` whose first message says ``text`` (usage and metadata kept)."""
        generation = result.generations[0]
        meta = dict(generation.message.response_metadata or {})
        if finish_reason is not None:
            meta["finish_reason"] = finish_reason
        message = generation.message.model_copy(update={"content": text, "response_metadata": meta})
        info = dict(generation.generation_info or {})
        if finish_reason is not None and "finish_reason" in info:
            info["finish_reason"] = finish_reason
        first = ChatGeneration(message=message, generation_info=info or None)
        return ChatResult(
            generations=[first, *result.generations[1:]], llm_output=result.llm_output
        )
