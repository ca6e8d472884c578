"""Response length control through LangChain front doors: the chat-model wrapper plans
the cap, stops looping or finished-JSON streams (closing the inner stream), continues
answers cut by their cap; the agent middleware plans and continues too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from langchain_tokenomy import OptimizedChatModel, TokenomyMiddleware
from tokenomy.cache import SemanticCache
from tokenomy.output import OutputControl
from tokenomy.pipeline import TRACE_KEY

LOOP = "Here is my answer. " + "The cat sat on the mat and looked at the door. " * 100
JSON_TAIL = '{"city": "Paris", "country": "France"} Hope that helps, just ask for more!'


class Scripted(BaseChatModel):
    """Answers from a script; streams word by word and notes how far it got; its
    generate replies are cut by the cap (finish_reason length) until the last."""

    stream_text: str = LOOP
    replies: list[str] = Field(default_factory=list)
    calls: list[Any] = Field(default_factory=list)
    seen: dict[str, Any] = Field(default_factory=lambda: {"yielded": 0, "closed": False})

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.calls.append((messages, kwargs))
        text = self.replies.pop(0)
        reason = "length" if self.replies else "stop"
        message = AIMessage(
            content=text,
            response_metadata={"finish_reason": reason},
            usage_metadata={"input_tokens": 3, "output_tokens": 5, "total_tokens": 8},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _words(self):
        words = self.stream_text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]]

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append((messages, kwargs))
        try:
            for w in self._words():
                self.seen["yielded"] += 1
                yield ChatGenerationChunk(message=AIMessageChunk(content=w))
        finally:
            self.seen["closed"] = True

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append((messages, kwargs))
        try:
            for w in self._words():
                self.seen["yielded"] += 1
                yield ChatGenerationChunk(message=AIMessageChunk(content=w))
        finally:
            self.seen["closed"] = True


def streamed(model: OptimizedChatModel, path: str) -> list[AIMessageChunk]:
    if path == "stream":
        return list(model.stream("Tell me about cats."))

    async def go() -> list[AIMessageChunk]:
        return [c async for c in model.astream("Tell me about cats.")]

    return asyncio.run(go())


def output_of(chunks: list[AIMessageChunk]) -> dict[str, Any]:
    return [c for c in chunks if TRACE_KEY in c.response_metadata][-1].response_metadata[TRACE_KEY][
        "output"
    ]


@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_looping_stream_is_stopped_and_the_inner_stream_closed(path):
    inner = Scripted()
    model = OptimizedChatModel(inner=inner, output=OutputControl())
    chunks = streamed(model, path)
    text = "".join(c.text for c in chunks)
    assert inner.seen["closed"] and inner.seen["yielded"] < 80
    out = output_of(chunks)
    assert out["stopped_by"] == "loop"
    assert text[: out["kept_chars"]].count("The cat sat") == 1


@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_json_stream_stops_at_the_closed_object(path):
    inner = Scripted(stream_text=JSON_TAIL)
    model = OptimizedChatModel(inner=inner, output=OutputControl())
    chunks = streamed(model, path)
    text = "".join(c.text for c in chunks)
    assert json.loads(text) == {"city": "Paris", "country": "France"}
    assert output_of(chunks)["stopped_by"] == "json"


def test_the_cap_is_planned_and_a_cut_answer_continued():
    inner = Scripted(
        replies=["Cats are small, quiet animals. They sleep a lot and", "and they purr."]
    )
    model = OptimizedChatModel(inner=inner, output=OutputControl(max_tokens=64, continue_max=2))
    reply = model.invoke("Tell me about cats.")
    assert reply.content == "Cats are small, quiet animals. They sleep a lot and they purr."
    assert inner.calls[0][1]["max_tokens"] == 64
    second = inner.calls[1][0]
    assert isinstance(second[-2], AIMessage) and isinstance(second[-1], HumanMessage)
    out = reply.response_metadata[TRACE_KEY]["output"]
    assert out == {"planned": 64, "continued": 1, "truncated": False}
    assert model.pipeline.failures == {}
    assert reply.response_metadata["finish_reason"] == "stop"


def test_a_cut_answer_is_flagged_when_not_continued():
    inner = Scripted(replies=["Cats sleep a lot. They also like to", "unused"])
    model = OptimizedChatModel(inner=inner, output=OutputControl())
    reply = model.invoke("cats?", max_tokens=9)
    assert reply.content == "Cats sleep a lot."
    assert reply.response_metadata[TRACE_KEY]["output"]["truncated"] is True
    assert inner.calls[0][1]["max_tokens"] == 9  # the caller's cap is left alone


def test_a_cached_answer_replays_through_the_monitor():
    inner = Scripted(replies=[JSON_TAIL])
    model = OptimizedChatModel(
        inner=inner, cache=SemanticCache(mode="exact"), output=OutputControl()
    )
    assert model.invoke("json?").content == JSON_TAIL
    chunks = list(model.stream("json?"))
    assert json.loads("".join(c.text for c in chunks)) == {"city": "Paris", "country": "France"}


def test_agent_middleware_plans_the_cap_and_continues():
    from langchain.agents import create_agent

    inner = Scripted(replies=["The answer starts here and", "and ends here."])
    middleware = TokenomyMiddleware(output=OutputControl(max_tokens=50, continue_max=1))
    agent = create_agent(model=inner, tools=[], middleware=[middleware])
    state = agent.invoke({"messages": [HumanMessage("q")]})
    last = state["messages"][-1]
    assert last.content == "The answer starts here and ends here."
    assert last.response_metadata[TRACE_KEY]["output"]["continued"] == 1
    assert inner.calls[0][1].get("max_tokens") == 50
