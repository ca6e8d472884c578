"""Response length control through LlamaIndex's OptimizedLLM: streams stopped (the inner
stream closed, the closing chunk holding the kept text), answers cut by their cap
continued, the planned cap sent as max_tokens."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from pydantic import Field

from llama_index_tokenomy import OptimizedLLM
from tokenomy.output import OutputControl
from tokenomy.pipeline import TRACE_KEY

LOOP = "Here it is. " + "The dog ran to the park and back home again. " * 100
JSON_TAIL = '{"a": 1, "b": [2, 3]} That is the object you asked for.'


class Scripted(CustomLLM):
    stream_text: str = LOOP
    replies: list[str] = Field(default_factory=list)
    calls: list[Any] = Field(default_factory=list)
    seen: dict[str, Any] = Field(default_factory=lambda: {"yielded": 0, "closed": False})

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls.append((prompt, kwargs))
        text = self.replies.pop(0)
        reason = "length" if self.replies else "stop"
        return CompletionResponse(text=text, raw={"choices": [{"finish_reason": reason}]})

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.calls.append((prompt, kwargs))
        seen = self.seen

        def gen() -> CompletionResponseGen:
            text = ""
            words = self.stream_text.split(" ")
            try:
                for i, w in enumerate(words):
                    delta = w + (" " if i < len(words) - 1 else "")
                    text += delta
                    seen["yielded"] += 1
                    yield CompletionResponse(text=text, delta=delta)
            finally:
                seen["closed"] = True

        return gen()


def run_stream(llm: OptimizedLLM, path: str) -> list[Any]:
    messages = [ChatMessage(role=MessageRole.USER, content="dogs?")]
    if path == "stream_complete":
        return list(llm.stream_complete("dogs?"))
    if path == "stream_chat":
        return list(llm.stream_chat(messages))

    async def go() -> list[Any]:
        if path == "astream_complete":
            return [c async for c in await llm.astream_complete("dogs?")]
        return [c async for c in await llm.astream_chat(messages)]

    return asyncio.run(go())


def text_of(chunk: Any) -> str:
    return chunk.text if isinstance(chunk, CompletionResponse) else chunk.message.content


@pytest.mark.parametrize(
    "path", ["stream_complete", "stream_chat", "astream_complete", "astream_chat"]
)
def test_a_looping_stream_is_stopped_and_closed(path):
    inner = Scripted()
    llm = OptimizedLLM(inner, output=OutputControl())
    chunks = run_stream(llm, path)
    assert inner.seen["closed"] and inner.seen["yielded"] < 80
    last = chunks[-1]
    out = last.additional_kwargs[TRACE_KEY]["output"]
    assert out["stopped_by"] == "loop"
    assert text_of(last).count("The dog ran") == 1  # the closing chunk holds the kept text


def test_a_json_stream_stops_at_the_object():
    inner = Scripted(stream_text=JSON_TAIL)
    chunks = list(OptimizedLLM(inner, output=OutputControl()).stream_complete("json"))
    assert json.loads(chunks[-1].text) == {"a": 1, "b": [2, 3]}


@pytest.mark.parametrize("path", ["complete", "acomplete", "chat", "achat"])
def test_a_cut_answer_is_continued(path):
    # a completion goes on from the prompt grown by the answer (its text follows on);
    # a chat model asked to continue often restates the seam, dropped when joined
    more = " play fetch." if path in ("complete", "acomplete") else "and play fetch."
    inner = Scripted(replies=["Dogs are loyal. They like to run and", more])
    llm = OptimizedLLM(inner, output=OutputControl(max_tokens=32, continue_max=2))
    if path in ("complete", "acomplete"):
        call = llm.complete if path == "complete" else llm.acomplete
        reply: Any = call("dogs?")
    else:
        messages = [ChatMessage(role=MessageRole.USER, content="dogs?")]
        reply = llm.chat(messages) if path == "chat" else llm.achat(messages)
    if asyncio.iscoroutine(reply):
        reply = asyncio.run(reply)
    assert text_of(reply) == "Dogs are loyal. They like to run and play fetch."
    assert inner.calls[0][1]["max_tokens"] == 32
    assert reply.additional_kwargs[TRACE_KEY]["output"]["continued"] == 1
    if path in ("chat", "achat"):
        assert "assistant: Dogs are loyal. They like to run" in inner.calls[1][0]
