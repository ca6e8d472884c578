"""Every LangChain call path runs through the one request pipeline: a failing stage
never fails the call, budgets hold under concurrency, identical misses share a call."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import threading
import time
import uuid
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from langchain_tokenomy import (
    OptimizedChatModel,
    RoutingChatModel,
    TokenomyCache,
    TokenomyMiddleware,
    TokenomyRoutingMiddleware,
)
from tokenomy.budget import SpendBudget
from tokenomy.cache import SemanticCache
from tokenomy.context import ConversationWindow
from tokenomy.errors import BudgetExceededError
from tokenomy.pipeline import TRACE_KEY
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.tokens import PriceTable

WORDS = "one two three four five six seven eight nine ten"
PRICES = PriceTable.default().with_prices({"unit-model": {"input": 0.0, "output": 100_000.0}})
PATHS = ["invoke", "batch", "stream", "ainvoke", "astream"]


class Unit(BaseChatModel):
    """A priced fake: 10 output tokens at $0.10 = $1 a call; can wait at a gate or fail
    its first call; its metadata holds values JSON cannot (datetime, Decimal, …)."""

    model_name: str = "unit-model"
    fail_first: bool = False
    gate: Any = None
    calls: list = Field(default_factory=list)
    entered: Any = Field(default_factory=lambda: threading.Semaphore(0))

    @property
    def _llm_type(self) -> str:
        return "unit"

    def _enter(self, messages: list[BaseMessage]) -> int:
        self.calls.append(messages)
        self.entered.release()
        return len(self.calls)

    def _message(self, n: int) -> AIMessage:
        if self.fail_first and n == 1:
            raise RuntimeError("provider down")
        return AIMessage(
            content=WORDS,
            usage_metadata={"input_tokens": 5, "output_tokens": 10, "total_tokens": 15},
            response_metadata={
                "model_name": "unit-model",
                "created": dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc),
                "cost": decimal.Decimal("1.00"),
                "request_id": uuid.UUID(int=7),
                "raw": b"\x00\x01",
                "flags": {"b", "a"},
            },
        )

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        n = self._enter(messages)
        if self.gate is not None:
            self.gate.wait(10)
        return ChatResult(generations=[ChatGeneration(message=self._message(n))])

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        n = self._enter(messages)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.005)
        return ChatResult(generations=[ChatGeneration(message=self._message(n))])

    def _chunks(self, n: int):
        message = self._message(n)
        words = WORDS.split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=word + ("" if last else " "),
                    usage_metadata=message.usage_metadata if last else None,
                    response_metadata={"model_name": "unit-model"} if last else {},
                )
            )

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        n = self._enter(messages)
        if self.gate is not None:
            self.gate.wait(10)
        yield from self._chunks(n)

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        n = self._enter(messages)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.005)
        for chunk in self._chunks(n):
            yield chunk


def drive(model: Any, path: str, text: str = "What is the capital of France?") -> AIMessage:
    if path == "invoke":
        return model.invoke(text)
    if path == "batch":
        return model.batch([text])[0]
    if path == "stream":
        return _merge(list(model.stream(text)))
    if path == "ainvoke":
        return asyncio.run(model.ainvoke(text))
    return asyncio.run(_astream(model, text))


async def _adrive(model: Any, path: str, text: str) -> AIMessage:
    if path == "ainvoke":
        return await model.ainvoke(text)
    return await _astream(model, text)


async def _astream(model: Any, text: str) -> AIMessage:
    return _merge([c async for c in model.astream(text)])


def _merge(chunks: list[AIMessageChunk]) -> AIMessage:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def _stages(message: AIMessage) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record in message.response_metadata[TRACE_KEY]["stages"]:
        out.setdefault(record["stage"], []).append(record["outcome"])
    return out


def _raise(*_: Any, **__: Any) -> Any:
    raise RuntimeError("injected")


class BrokenWindow(ConversationWindow):
    def fit(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected")


TABLE = ModelTable(
    [
        ModelSpec("unit", 0.0, 100_000.0, quality=0.8),
        # a tier low enough that the default prior never routes a test prompt to it
        ModelSpec("spare", 0.0, 100_000.0, quality=0.2),
    ]
)


def _model(stage: str | None, inner: Unit, **options: Any) -> Any:
    cache = SemanticCache(mode="exact")
    if stage == "cache":
        cache.lookup = _raise  # type: ignore[method-assign]
    if stage == "settle":
        cache.store = _raise  # type: ignore[method-assign]
    if stage == "route":
        router = Router(TABLE)
        router.route_or_best = _raise  # type: ignore[method-assign]
        return RoutingChatModel(
            models={"unit": inner, "spare": Unit()}, router=router, cache=cache, **options
        )
    window = BrokenWindow(max_tokens=1000) if stage == "context" else None
    return OptimizedChatModel(inner=inner, cache=cache, window=window, prices=PRICES, **options)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stage", ["cache", "context", "route", "settle"])
def test_a_failing_stage_never_fails_the_call_and_the_trace_names_it(path, stage):
    model = _model(stage, Unit())
    reply = drive(model, path)
    assert reply.content == WORDS
    assert "skipped" in _stages(reply)[stage]


@pytest.mark.parametrize("path", PATHS)
def test_non_json_provider_metadata_does_not_poison_the_entry(path):
    inner = Unit()
    model = OptimizedChatModel(inner=inner, cache=SemanticCache(mode="exact"))
    drive(model, "invoke")  # stores an answer whose metadata holds datetime, Decimal, …
    again = drive(model, path)
    assert again.content == WORDS and len(inner.calls) == 1
    assert _stages(again)["cache"] == ["hit"]
    assert again.response_metadata["created"] == "2026-12-04T00:00:00+00:00"
    assert again.response_metadata["flags"] == ["a", "b"]


# -- budgets hold on every path -----------------------------------------------------------


def _budgeted(kind: str, budget: SpendBudget, inner: Unit) -> Any:
    if kind == "optimized":
        return OptimizedChatModel(inner=inner, budget=budget, prices=PRICES)
    return RoutingChatModel(
        models={"unit": inner, "spare": Unit()}, router=Router(TABLE), budget=budget
    )


@pytest.mark.parametrize("kind", ["optimized", "routing"])
@pytest.mark.parametrize("path", ["invoke", "batch", "stream"])
def test_a_five_dollar_budget_holds_under_eight_threads(kind, path):
    budget = SpendBudget(5.0)
    inner = Unit(gate=threading.Event())
    model = _budgeted(kind, budget, inner).bind(max_tokens=10)
    refused, done = [], []

    def worker(i: int) -> None:
        try:
            done.append(drive(model, path, f"question {i}"))
        except BudgetExceededError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for _ in range(5):
        assert inner.entered.acquire(timeout=10)
    deadline = time.monotonic() + 10
    while len(refused) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    inner.gate.set()
    for t in threads:
        t.join()
    assert (len(done), len(refused), len(inner.calls)) == (5, 3, 5)
    assert budget.spent_usd == pytest.approx(5.0) and budget.reserved_usd == 0.0


@pytest.mark.parametrize("kind", ["optimized", "routing"])
@pytest.mark.parametrize("path", ["ainvoke", "astream"])
async def test_a_five_dollar_budget_holds_under_eight_tasks(kind, path):
    budget = SpendBudget(5.0)
    inner = Unit(gate=threading.Event())
    model = _budgeted(kind, budget, inner).bind(max_tokens=10)
    tasks = [asyncio.create_task(_adrive(model, path, f"question {i}")) for i in range(8)]
    while len(inner.calls) < 5 or sum(t.done() for t in tasks) < 3:
        await asyncio.sleep(0.005)
    inner.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, BudgetExceededError) for r in results) == 3
    assert budget.spent_usd == pytest.approx(5.0) and budget.reserved_usd == 0.0


def test_routing_streams_are_charged_too():
    budget = SpendBudget(100.0)
    model = _budgeted("routing", budget, Unit())
    for _ in range(3):
        list(model.stream("hi"))
    assert budget.spent_usd == pytest.approx(3.0)


def test_a_stream_stopped_by_the_caller_is_charged_for_what_it_generated():
    budget = SpendBudget(5.0)
    model = _budgeted("optimized", budget, Unit()).bind(max_tokens=10)
    stream = model.stream("hi")
    taken = [next(stream) for _ in range(3)]
    stream.close()
    assert "".join(c.content for c in taken) == "one two three "
    # LangChain reads ahead a little: charged for the words generated, not all ten
    assert 0.3 - 1e-9 <= budget.spent_usd <= 0.6 and budget.reserved_usd == 0.0


@pytest.mark.parametrize("kind", ["plain", "routing"])
def test_agent_middleware_holds_the_budget(kind):
    from langchain.agents import create_agent

    budget = SpendBudget(27.0)  # each call reserves $25.60: its prompt and 256 answer tokens
    inner = Unit()
    if kind == "plain":
        middleware: Any = TokenomyMiddleware(budget=budget, prices=PRICES)
        agent_model: Any = inner
    else:
        middleware = TokenomyRoutingMiddleware(
            {"unit": inner, "spare": Unit()}, router=Router(TABLE), budget=budget
        )
        agent_model = Unit()
    agent = create_agent(model=agent_model, tools=[], middleware=[middleware])
    for _ in range(2):
        state = agent.invoke({"messages": [HumanMessage("hi")]})
        assert TRACE_KEY in state["messages"][-1].response_metadata
    assert budget.spent_usd == pytest.approx(2.0)  # two $1 calls, settled from usage
    with pytest.raises(BudgetExceededError):  # $25.00 left, a call may cost $25.60
        agent.invoke({"messages": [HumanMessage("hi")]})
    assert len(inner.calls) == 2


# -- single-flight on every path ----------------------------------------------------------


def _flight_model(kind: str, inner: Unit) -> Any:
    if kind == "global":
        return inner
    return OptimizedChatModel(inner=inner, cache=SemanticCache(mode="exact"))


@pytest.mark.parametrize("path", ["invoke", "batch", "stream"])
@pytest.mark.parametrize("kind", ["optimized", "global"])
@pytest.mark.parametrize("fail_first", [False, True])
def test_twenty_identical_misses_make_one_call_and_a_failed_leader_two(path, kind, fail_first):
    if kind == "global" and path == "stream":
        pytest.skip("LangChain consults no LLM cache when a model streams")
    inner = Unit(gate=threading.Event(), fail_first=fail_first)
    model = _flight_model(kind, inner)
    if kind == "global":
        set_llm_cache(TokenomyCache(SemanticCache(mode="exact"), wait_s=10))
    replies, errors = [], []

    def worker() -> None:
        try:
            replies.append(drive(model, path))
        except RuntimeError as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        assert inner.entered.acquire(timeout=10)
        time.sleep(0.3)  # let the other 19 reach the in-flight marker
        inner.gate.set()
        for t in threads:
            t.join()
    finally:
        set_llm_cache(None)
    assert len(inner.calls) == (2 if fail_first else 1)
    assert len(errors) == (1 if fail_first else 0)
    assert all(r.content == WORDS for r in replies) and len(replies) == 20 - len(errors)


@pytest.mark.parametrize("path", ["ainvoke", "astream"])
@pytest.mark.parametrize("fail_first", [False, True])
async def test_twenty_identical_async_misses_make_one_call(path, fail_first):
    inner = Unit(gate=threading.Event(), fail_first=fail_first)
    model = _flight_model("optimized", inner)
    tasks = [asyncio.create_task(_adrive(model, path, "same question")) for _ in range(20)]
    while not inner.calls:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)
    inner.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert len(inner.calls) == (2 if fail_first else 1)
    assert sum(isinstance(r, BaseException) for r in results) == (1 if fail_first else 0)


async def test_the_global_cache_async_path_shares_one_call():
    inner = Unit(gate=threading.Event())
    set_llm_cache(TokenomyCache(SemanticCache(mode="exact"), wait_s=10))
    try:
        tasks = [asyncio.create_task(inner.ainvoke("same")) for _ in range(20)]
        while not inner.calls:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)
        inner.gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        set_llm_cache(None)
    assert len(inner.calls) == 1 and all(r.content == WORDS for r in results)


def test_the_global_cache_hands_a_silent_failure_to_one_waiter_after_wait_s():
    inner = Unit(gate=threading.Event(), fail_first=True)
    set_llm_cache(TokenomyCache(SemanticCache(mode="exact"), wait_s=0.5))
    errors, replies = [], []

    def worker() -> None:
        try:
            replies.append(inner.invoke("same"))
        except RuntimeError as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker) for _ in range(5)]
        for t in threads:
            t.start()
        assert inner.entered.acquire(timeout=10)
        time.sleep(0.2)
        inner.gate.set()
        for t in threads:
            t.join()
    finally:
        set_llm_cache(None)
    assert len(inner.calls) == 2 and len(errors) == 1 and len(replies) == 4


@pytest.mark.parametrize("path", ["stream", "astream"])
async def test_an_inner_model_that_cannot_stream_is_replayed_to_a_streaming_caller(path):
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

    inner = FakeMessagesListChatModel(responses=[AIMessage(content="Paris is the capital.")])
    model = OptimizedChatModel(inner=inner, cache=SemanticCache(mode="exact"))
    if path == "stream":
        chunks = list(model.stream("Capital of France?"))
    else:
        chunks = [c async for c in model.astream("Capital of France?")]
    words = [c.content for c in chunks if c.content]
    assert words == ["Paris ", "is ", "the ", "capital."]
    traces = [c.response_metadata[TRACE_KEY] for c in chunks if TRACE_KEY in c.response_metadata]
    assert [s["outcome"] for s in traces[-1]["stages"]] == ["miss", "stored"]
    again = model.invoke("Capital of France?")  # the replayed answer was stored
    assert again.content == "Paris is the capital."
    assert again.response_metadata[TRACE_KEY]["stages"][0]["outcome"] == "hit"


def test_a_budget_on_a_model_it_cannot_price_fails_at_construction():
    from langchain_core.language_models import FakeListChatModel
    from pydantic import ValidationError

    from tokenomy.tokens import PriceTable

    unnamed = FakeListChatModel(responses=["x"])  # no model name to price it by
    with pytest.raises(ValidationError, match="no name to look it up by"):
        OptimizedChatModel(inner=unnamed, budget=SpendBudget(limit_usd=1.0))

    class Named(FakeListChatModel):
        model_name: str = "house-model"

    with pytest.raises(ValidationError, match=r"with_prices\(\{'house-model'"):
        OptimizedChatModel(inner=Named(responses=["x"]), budget=SpendBudget(limit_usd=1.0))
    prices = PriceTable.default().with_prices({"house-model": {"input": 1.0, "output": 1.0}})
    model = OptimizedChatModel(
        inner=Named(responses=["x"]), budget=SpendBudget(limit_usd=1.0), prices=prices
    )
    assert model.invoke("hi").content == "x"
