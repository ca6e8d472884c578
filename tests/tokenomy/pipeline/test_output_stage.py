"""The output stage in the pipeline: planned caps, streams stopped by the monitor (the
provider's stream closed, the partial charged), cached answers replayed through the
monitor, answers cut by their cap continued or flagged truncated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tokenomy.budget import SpendBudget
from tokenomy.cache import Answer, SemanticCache
from tokenomy.output import OutputControl
from tokenomy.pipeline import Pipeline, Request, Sent, Trace
from tokenomy.tokens import PriceTable, TokenUsage

# $0.10 per output token: a 10-word answer costs $1.00
PRICES = PriceTable.default().with_prices({"unit-model": {"input": 0.0, "output": 100_000.0}})
LOOP = "Sure, here it is. " + "I will repeat this sentence again and again. " * 200
JSON_TAIL = '{"name": "Ada", "year": 1815} I hope this helps! Let me know.'


@dataclass
class Reply:
    text: str
    finish: str | None = "stop"
    trace: dict[str, Any] | None = None
    tokens: int | None = None  # the provider's usage (default: the words of text)


@dataclass
class Codec:
    """Replies with a finish reason; chunks are words; usage counts words."""

    seen: list[Reply] = field(default_factory=list)

    def answer(self, result: Reply, sent: Sent) -> Answer:
        return Answer(
            payload=json.dumps({"text": result.text}),
            text=result.text,
            model=sent.model or sent.request.model,
            usage=TokenUsage(0, result.tokens or len(result.text.split())),
            finish_reason=result.finish,
        )

    def rebuild(self, payload: str, served: str) -> Reply:
        return Reply(json.loads(payload)["text"])

    def merge(self, chunks: list[Any]) -> Reply:
        reply = Reply("".join(c for c in chunks if isinstance(c, str)))
        self.seen.append(reply)
        return reply

    def replay(self, result: Reply) -> list[str]:
        return words(result.text)

    def annotate(self, result: Reply, trace: Trace) -> Reply:
        result.trace = trace.as_dict()
        return result

    def last_chunk(self, trace: Trace) -> Any:
        return trace

    def text_of(self, chunk: Any) -> str:
        return chunk if isinstance(chunk, str) else ""

    def with_text(self, result: Reply, text: str, finish_reason: str | None) -> Reply:
        # like a provider's message, the first part's usage stays with it
        return Reply(text, finish_reason, result.trace, len(result.text.split()))


def words(text: str) -> list[str]:
    out = text.split(" ")
    return [w + " " for w in out[:-1]] + [out[-1]]


def count(text: str) -> int:
    return len(text.split())


class Provider:
    """Streams ``text`` word by word and notes how far it got and whether it was closed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sent: list[Sent] = []
        self.yielded = 0
        self.closed = False

    def stream(self, sent: Sent) -> Iterator[str]:
        self.sent.append(sent)
        try:
            for w in words(self.text):
                self.yielded += 1
                yield w
        finally:
            self.closed = True

    async def astream(self, sent: Sent) -> AsyncIterator[str]:
        self.sent.append(sent)
        try:
            for w in words(self.text):
                self.yielded += 1
                yield w
        finally:
            self.closed = True


def collect(pipe: Pipeline, request: Request, provider: Provider, path: str) -> list[Any]:
    codec = Codec()
    if path == "stream":
        return list(pipe.stream(request, provider.stream, codec))

    async def go() -> list[Any]:
        return [c async for c in pipe.astream(request, provider.astream, codec)]

    return asyncio.run(go())


def last_trace(chunks: list[Any]) -> dict[str, Any]:
    traces = [c for c in chunks if isinstance(c, Trace)]
    return traces[-1].as_dict()


@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_looping_stream_is_stopped_closed_and_charged_for_what_was_generated(path):
    budget = SpendBudget(1000.0)
    pipe = Pipeline(output=OutputControl(), budget=budget, prices=PRICES)
    provider = Provider(LOOP)
    request = Request(prompt="q", model="unit-model", max_tokens=2000)
    chunks = collect(pipe, request, provider, path)
    text = "".join(c for c in chunks if isinstance(c, str))
    assert provider.closed and provider.yielded < 80  # the provider stopped well before 1,600
    assert len(text.split()) == provider.yielded
    trace = last_trace(chunks)
    assert trace["output"]["stopped_by"] == "loop"
    assert trace["output"]["saved_tokens"] > 1000
    kept = text[: trace["output"]["kept_chars"]]
    assert kept.startswith("Sure, here it is. I will repeat") and kept.count("repeat") == 1
    assert budget.spent_usd == pytest.approx(provider.yielded * 0.1)
    assert any(s["outcome"] == "stopped" for s in trace["stages"])


@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_json_answer_stops_at_the_closed_object_and_is_not_stored(path):
    cache = SemanticCache(mode="exact")
    pipe = Pipeline(output=OutputControl(), cache=cache)
    provider = Provider(JSON_TAIL)
    chunks = collect(pipe, Request(prompt="json please", max_tokens=100), provider, path)
    text = "".join(c for c in chunks if isinstance(c, str))
    assert json.loads(text.strip()) == {"name": "Ada", "year": 1815}
    assert provider.closed and "helps" not in text
    assert last_trace(chunks)["output"]["stopped_by"] == "json"
    assert cache.lookup("json please") is None  # a stopped stream is never stored


def test_a_stream_without_a_stop_runs_to_the_end_and_is_stored():
    cache = SemanticCache(mode="exact")
    pipe = Pipeline(output=OutputControl(), cache=cache)
    provider = Provider("Tea is brewed with hot water.")
    chunks = collect(pipe, Request(prompt="tea?"), provider, "stream")
    assert "".join(c for c in chunks if isinstance(c, str)) == "Tea is brewed with hot water."
    assert cache.lookup("tea?") is not None
    assert [s["outcome"] for s in last_trace(chunks)["stages"] if s["stage"] == "output"] == [
        "watched"
    ]


def test_a_cached_answer_replays_through_the_monitor():
    cache = SemanticCache(mode="exact")
    pipe = Pipeline(cache=cache, output=OutputControl())
    first = pipe.run(Request(prompt="who?"), lambda sent: Reply(JSON_TAIL), Codec())
    assert first.text == JSON_TAIL  # a non-streamed answer is returned as it is
    chunks = list(pipe.stream(Request(prompt="who?"), Provider("unused").stream, Codec()))
    assert json.loads("".join(chunks)) == {"name": "Ada", "year": 1815}


def test_the_cap_is_planned_and_reported():
    pipe = Pipeline(output=OutputControl(max_tokens=77))
    seen: list[Sent] = []
    reply = pipe.run(Request(prompt="q"), lambda sent: seen.append(sent) or Reply("ok."), Codec())
    assert seen[0].max_tokens == 77
    assert reply.trace is not None and reply.trace["output"] == {"planned": 77}


class Parts:
    """Answers in parts: each call returns the next, cut by the cap but the last."""

    def __init__(self, *parts: str) -> None:
        self.parts = list(parts)
        self.sent: list[Sent] = []

    def reply(self, sent: Sent) -> Reply:
        self.sent.append(sent)
        text = self.parts.pop(0)
        return Reply(text, "length" if self.parts else "stop")

    async def areply(self, sent: Sent) -> Reply:
        return self.reply(sent)


def run_path(pipe: Pipeline, request: Request, parts: Parts, path: str) -> Reply:
    if path == "run":
        return pipe.run(request, parts.reply, Codec())
    return asyncio.run(pipe.arun(request, parts.areply, Codec()))


@pytest.mark.parametrize("path", ["run", "arun"])
def test_a_cut_answer_is_continued_and_joined(path):
    budget = SpendBudget(1000.0)
    pipe = Pipeline(output=OutputControl(continue_max=3), budget=budget, prices=PRICES)
    parts = Parts("Step one: boil water. Step two: add the", "Step two: add the tea.")
    request = Request(
        messages=({"role": "user", "content": "How to make tea?"},), model="unit-model"
    )
    reply = run_path(pipe, request, parts, path)
    assert reply.text == "Step one: boil water. Step two: add the tea."
    assert reply.trace is not None and reply.trace["output"]["continued"] == 1
    assert reply.trace["output"]["truncated"] is False
    second = parts.sent[1]
    # resumed from the last whole word (the last sentence end is too far back)
    assert second.messages[-2] == {
        "role": "assistant",
        "content": "Step one: boil water. Step two: add",
    }
    assert second.messages[-1]["role"] == "user" and second.origins[-2:] == (None, None)
    # both calls are charged: 8 words, then 5 words
    assert budget.spent_usd == pytest.approx(0.1 * (8 + 5))


@pytest.mark.parametrize("path", ["run", "arun"])
def test_an_answer_still_cut_is_cut_back_to_a_boundary_and_flagged(path):
    pipe = Pipeline(output=OutputControl(continue_max=0))
    parts = Parts("It is sunny today. Tomorrow it will be", "never asked")
    reply = run_path(pipe, Request(prompt="weather?"), parts, path)
    assert reply.text == "It is sunny today."
    assert reply.finish == "length" and len(parts.sent) == 1
    assert reply.trace is not None and reply.trace["output"]["truncated"] is True


def test_a_failed_continuation_keeps_the_first_part():
    pipe = Pipeline(output=OutputControl(continue_max=2))
    calls = []

    def call(sent: Sent) -> Reply:
        calls.append(sent)
        if len(calls) > 1:
            raise RuntimeError("provider down")
        return Reply("A first sentence here. And a second one that is cut", "length")

    reply = pipe.run(Request(prompt="q"), call, Codec())
    assert reply.text == "A first sentence here."
    assert pipe.failures["output"] == 1


def test_a_continuation_that_adds_nothing_stops_the_asking():
    pipe = Pipeline(output=OutputControl(continue_max=5))
    parts = Parts("It rains. The streets are", "", "more", "more", "more")
    reply = pipe.run(Request(prompt="q"), parts.reply, Codec())
    assert len(parts.sent) == 2  # the second part added nothing: no third call
    assert reply.text == "It rains." and reply.trace["output"]["truncated"] is True


@pytest.mark.parametrize("path", ["run", "arun"])
def test_a_continuation_reserves_through_the_budget_before_its_call(path):
    # a cap of 10 words at $0.10 each: each call reserves $1.00 before it is made
    budget = SpendBudget(1000.0)
    pipe = Pipeline(output=OutputControl(continue_max=3), budget=budget, prices=PRICES)
    reserved: list[float] = []
    parts = Parts("Step one: boil water. Step two: add the", "Step two: add the tea.")

    def reply(sent: Sent) -> Reply:
        reserved.append(budget.reserved_usd)
        return parts.reply(sent)

    async def areply(sent: Sent) -> Reply:
        return reply(sent)

    tea = {"role": "user", "content": "tea?"}
    request = Request(messages=(tea,), model="unit-model", max_tokens=10)
    if path == "run":
        out = pipe.run(request, reply, Codec())
    else:
        out = asyncio.run(pipe.arun(request, areply, Codec()))
    assert out.text == "Step one: boil water. Step two: add the tea."
    # during the continuation both its own reservation and the first call's are held
    assert reserved == [pytest.approx(1.0), pytest.approx(2.0)]
    assert budget.reserved_usd == 0.0
    assert budget.spent_usd == pytest.approx(0.1 * (8 + 5))
    budget.check()


def test_a_continuation_the_budget_refuses_is_not_made_and_the_answer_is_flagged():
    # $1.50 left: the first call reserves $1.00 (10 words), a continuation would need
    # $1.00 more while the first is in flight: refused, never called, budget held
    budget = SpendBudget(1.5)
    pipe = Pipeline(output=OutputControl(continue_max=3), budget=budget, prices=PRICES)
    parts = Parts("It is sunny today. Tomorrow it will be", "rainy and cold.")
    request = Request(prompt="weather?", model="unit-model", max_tokens=10)
    reply = pipe.run(request, parts.reply, Codec())
    assert len(parts.sent) == 1
    assert reply.text == "It is sunny today." and reply.trace is not None
    assert reply.trace["output"]["truncated"] is True
    assert any(
        s["stage"] == "output" and s["outcome"] == "not continued" for s in reply.trace["stages"]
    )
    assert budget.spent_usd == pytest.approx(0.1 * 8) and budget.reserved_usd == 0.0
    budget.check()


def test_a_failed_continuation_gives_its_reservation_back():
    budget = SpendBudget(1000.0)
    pipe = Pipeline(output=OutputControl(continue_max=2), budget=budget, prices=PRICES)
    calls = []

    def call(sent: Sent) -> Reply:
        calls.append(sent)
        if len(calls) > 1:
            raise RuntimeError("provider down")
        return Reply("A first sentence here. And a second one that is cut", "length")

    pipe.run(Request(prompt="q", model="unit-model", max_tokens=12), call, Codec())
    assert budget.reserved_usd == 0.0
    assert budget.spent_usd == pytest.approx(0.1 * 11)  # the first call only


def test_a_cancelled_continuation_gives_its_hold_back_and_charges_the_first_part():
    budget = SpendBudget(1000.0)
    pipe = Pipeline(output=OutputControl(continue_max=2), budget=budget, prices=PRICES)
    calls = []

    async def call(sent: Sent) -> Reply:
        calls.append(sent)
        if len(calls) > 1:
            raise asyncio.CancelledError  # the caller went away mid-continuation
        return Reply("A first sentence here. And a second one that is cut", "length")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(
            pipe.arun(Request(prompt="q", model="unit-model", max_tokens=12), call, Codec())
        )
    assert len(calls) == 2 and budget.reserved_usd == 0.0
    assert budget.spent_usd == pytest.approx(0.1 * 11)  # the first part was generated: paid


def test_an_answer_that_loops_is_not_continued_but_kept_up_to_the_loop():
    pipe = Pipeline(output=OutputControl(continue_max=3))
    looping = "Here is a story. " + "She loves it too! Luna said so again. " * 12
    parts = Parts(looping, "never asked")
    reply = pipe.run(Request(prompt="story?"), parts.reply, Codec())
    assert len(parts.sent) == 1
    assert reply.text == "Here is a story. She loves it too! Luna said so again."
    assert reply.trace is not None and reply.trace["output"]["stopped_by"] == "loop"
    assert reply.trace["output"]["truncated"] is False


def test_a_completion_prompt_grows_by_the_whole_answer_and_parts_follow_on():
    pipe = Pipeline(output=OutputControl(continue_max=3))
    parts = Parts("Use numpy: import num", "py as np. Then call it.")
    reply = pipe.run(Request(prompt="Q: arrays?\nA: "), parts.reply, Codec())
    assert parts.sent[1].prompt == "Q: arrays?\nA: Use numpy: import num"
    assert reply.text == "Use numpy: import numpy as np. Then call it."


def test_a_chat_part_that_starts_the_answer_over_ends_the_asking():
    pipe = Pipeline(output=OutputControl(continue_max=5))
    first = "To disable change data capture on the server, run the command below. Then restart the"
    again = (
        "To disable change data capture on the server, run this other command first, then the other"
    )
    parts = Parts(first, again, "more")
    tea = {"role": "user", "content": "How?"}
    reply = pipe.run(Request(messages=(tea,)), parts.reply, Codec())
    assert len(parts.sent) == 2
    assert reply.text == "To disable change data capture on the server, run the command below."
    assert reply.trace is not None and reply.trace["output"]["truncated"] is True
