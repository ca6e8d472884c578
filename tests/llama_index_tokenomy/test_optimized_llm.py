"""OptimizedLLM: every LlamaIndex call path through tokenomy's request pipeline.

One fake LLM implements all eight paths natively (the async ones really await), so
each test drives chat, achat, stream_chat, astream_chat, complete, acomplete,
stream_complete and astream_complete the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from pydantic import Field, PrivateAttr

from llama_index_tokenomy import OptimizedLLM, RoutingLLM, SemanticCacheLLM
from llama_index_tokenomy._pipeline import (
    CACHE_HIT_KEY,
    ROUTE_KEY,
    ChatCodec,
    CompletionCodec,
    llm_key,
)
from tokenomy.budget import SpendBudget
from tokenomy.cache import SemanticCache
from tokenomy.context import ConversationWindow
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.pipeline import TRACE_KEY
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.tokens.prices import PriceTable

PATHS = [
    "chat",
    "achat",
    "stream_chat",
    "astream_chat",
    "complete",
    "acomplete",
    "stream_complete",
    "astream_complete",
]
CHAT_PATHS = [p for p in PATHS if "chat" in p]
SYNC_PATHS = [p for p in PATHS if not p.startswith("a")]
ASYNC_PATHS = [p for p in PATHS if p.startswith("a")]
MODEL = "tokenomy-test-dollar"
PRICES = PriceTable.default().with_prices({MODEL: {"input": 0, "output": 250_000}})
"""Four answer tokens cost $1; the prompt is free."""
REPLY = "text text text text"
QUESTION = "What is the capital of France?"


class Fake(LLM):
    """All eight paths, natively; ``fail_first`` calls raise before answering."""

    model: str = MODEL
    max_tokens: int | None = 4
    reply: str = REPLY
    delay: float = 0.0
    fail_first: int = 0
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)
    api_key: str = "sk-secret"
    extra: dict[str, Any] = Field(default_factory=dict, exclude=True)
    _calls: int = PrivateAttr(default=0)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    seen: list[Any] = Field(default_factory=list, exclude=True)

    @classmethod
    def class_name(cls) -> str:
        return "Fake"

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=True, context_window=8000)

    def _begin(self, sent: Any) -> bool:
        with self._lock:
            self._calls += 1
            self.seen.append(sent)
            return self._calls <= self.fail_first

    def _raw(self) -> dict[str, Any]:
        words = len(self.reply.split())
        return {"model": self.model, "usage": {"prompt_tokens": 9, "completion_tokens": words}}

    def _chat(self) -> ChatResponse:
        message = ChatMessage(role=MessageRole.ASSISTANT, content=self.reply)
        return ChatResponse(message=message, raw=self._raw(), additional_kwargs=dict(self.extra))

    def _completion(self) -> CompletionResponse:
        return CompletionResponse(
            text=self.reply, raw=self._raw(), additional_kwargs=dict(self.extra)
        )

    def _pieces(self) -> list[tuple[str, str, bool]]:
        words = self.reply.split(" ")
        out, text = [], ""
        for i, word in enumerate(words):
            piece = word + (" " if i < len(words) - 1 else "")
            text += piece
            out.append((text, piece, i == len(words) - 1))
        return out

    def _chat_chunk(self, text: str, piece: str, last: bool) -> ChatResponse:
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
            delta=piece,
            raw=self._raw() if last else None,
            additional_kwargs=dict(self.extra),
        )

    def _completion_chunk(self, text: str, piece: str, last: bool) -> CompletionResponse:
        return CompletionResponse(
            text=text,
            delta=piece,
            raw=self._raw() if last else None,
            additional_kwargs=dict(self.extra),
        )

    def _sync(self, sent: Any) -> None:
        failing = self._begin(sent)
        time.sleep(self.delay)
        if failing:
            raise RuntimeError("503 from the fake provider")

    async def _async(self, sent: Any) -> None:
        failing = self._begin(sent)
        await asyncio.sleep(self.delay)
        if failing:
            raise RuntimeError("503 from the fake provider")

    def chat(self, messages, **kwargs):
        self._sync(messages)
        return self._chat()

    def complete(self, prompt, formatted=False, **kwargs):
        self._sync(prompt)
        return self._completion()

    def stream_chat(self, messages, **kwargs):
        def gen():
            self._sync(messages)
            for piece in self._pieces():
                yield self._chat_chunk(*piece)

        return gen()

    def stream_complete(self, prompt, formatted=False, **kwargs):
        def gen():
            self._sync(prompt)
            for piece in self._pieces():
                yield self._completion_chunk(*piece)

        return gen()

    async def achat(self, messages, **kwargs):
        await self._async(messages)
        return self._chat()

    async def acomplete(self, prompt, formatted=False, **kwargs):
        await self._async(prompt)
        return self._completion()

    async def astream_chat(self, messages, **kwargs):
        async def gen():
            await self._async(messages)
            for piece in self._pieces():
                yield self._chat_chunk(*piece)

        return gen()

    async def astream_complete(self, prompt, formatted=False, **kwargs):
        async def gen():
            await self._async(prompt)
            for piece in self._pieces():
                yield self._completion_chunk(*piece)

        return gen()


def exact() -> SemanticCache:
    return SemanticCache(mode="exact")


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


async def acall(llm: LLM, path: str, text: str = QUESTION) -> tuple[str, dict[str, Any]]:
    """The answer and its ``additional_kwargs`` (a stream's: its last chunk's)."""
    if path == "achat":
        r = await llm.achat(user(text))
        return r.message.content or "", r.additional_kwargs
    if path == "acomplete":
        c = await llm.acomplete(text)
        return c.text, c.additional_kwargs
    stream = await (llm.astream_chat(user(text)) if "chat" in path else llm.astream_complete(text))
    chunks = [chunk async for chunk in stream]
    return "".join(c.delta or "" for c in chunks), chunks[-1].additional_kwargs


def call(llm: LLM, path: str, text: str = QUESTION) -> tuple[str, dict[str, Any]]:
    """One call on ``path`` (async paths run in their own event loop)."""
    if path.startswith("a"):
        return asyncio.run(acall(llm, path, text))
    if path == "chat":
        r = llm.chat(user(text))
        return r.message.content or "", r.additional_kwargs
    if path == "complete":
        c = llm.complete(text)
        return c.text, c.additional_kwargs
    stream = llm.stream_chat(user(text)) if "chat" in path else llm.stream_complete(text)
    chunks = list(stream)
    return "".join(c.delta or "" for c in chunks), chunks[-1].additional_kwargs


def stages(meta: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["stage"], s["outcome"]) for s in meta[TRACE_KEY]["stages"]]


# -- every path: a hit, a replay, the trace ----------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_each_path_misses_then_hits_with_the_trace_in_additional_kwargs(path):
    inner = Fake()
    llm = OptimizedLLM(inner, cache=exact())
    text, meta = call(llm, path)
    assert text == REPLY and ("cache", "miss") in stages(meta)
    assert CACHE_HIT_KEY not in meta
    text, meta = call(llm, path)
    assert text == REPLY and inner.calls == 1
    assert meta[CACHE_HIT_KEY] == "exact_cache" and ("cache", "hit") in stages(meta)
    assert meta[TRACE_KEY]["saved_tokens"] > 0


def test_stream_chunks_carry_the_running_text_and_the_last_one_the_whole_answer():
    llm = OptimizedLLM(Fake(), cache=exact())
    for _ in range(2):  # a miss streamed from the model, then a hit replayed
        chunks = list(llm.stream_chat(user(QUESTION)))
        assert chunks[-1].message.content == REPLY
        assert "".join(c.delta or "" for c in chunks) == REPLY
        assert all(isinstance(c.delta, str) for c in chunks)


# -- (a) a raising stage is skipped, on every path ---------------------------------------


class BrokenWindow(ConversationWindow):
    def fit(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("window model missing")


class BrokenCounter:
    model = MODEL

    def count(self, *args: Any, **kwargs: Any) -> int:
        raise OSError("tokenizer files missing")

    count_messages = count


TABLE = ModelTable(
    [
        ModelSpec("small", 0.15, 0.6, context_window=8_000, quality=0.65),
        ModelSpec("large", 2.5, 10.0, context_window=128_000, quality=0.85),
    ]
)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


STAGES = ["lookup", "store", "window", "router", "rebuild"]


@pytest.mark.parametrize(
    ("path", "stage"),
    [(p, s) for p in PATHS for s in STAGES if s != "window" or p in CHAT_PATHS],
)
def test_a_raising_stage_is_skipped_and_named_in_the_trace(path, stage, monkeypatch):
    inner = Fake()
    if stage == "router":
        router = Router(TABLE, quality_target=0.6)
        router.counter = BrokenCounter()  # type: ignore[assignment]
        llm: OptimizedLLM = RoutingLLM({"small": Fake(), "large": inner}, router)
    elif stage == "window":
        llm = OptimizedLLM(inner, window=BrokenWindow(max_tokens=500))
    else:
        llm = OptimizedLLM(inner, cache=exact())
    cache = llm.cache
    if stage == "lookup":
        monkeypatch.setattr(cache, "lookup", _boom)
    elif stage == "store":
        monkeypatch.setattr(cache, "store", _boom)
    elif stage == "rebuild":
        call(llm, path)  # stores the answer
        discarded: list[Any] = []
        discard = cache.discard

        def spy(hit: Any) -> None:
            discarded.append(hit)
            discard(hit)

        monkeypatch.setattr(cache, "discard", spy)
        monkeypatch.setattr(ChatCodec, "rebuild", _boom)
        monkeypatch.setattr(CompletionCodec, "rebuild", _boom)

    text, meta = call(llm, path)

    assert text == REPLY
    expected = {
        "lookup": ("cache", "skipped"),
        "store": ("settle", "skipped"),
        "window": ("context", "skipped"),
        "router": ("route", "skipped"),
        "rebuild": ("cache", "miss"),
    }[stage]
    assert expected in stages(meta)
    if stage == "router":
        assert inner.calls == 1  # the best model answers when routing fails
    if stage == "rebuild":
        assert inner.calls == 2 and len(discarded) == 1  # a miss, and the entry goes
        detail = next(s for s in meta[TRACE_KEY]["stages"] if s["outcome"] == "miss")["detail"]
        assert "injected failure" in detail
        assert sum(cache.stats().tier_errors.values()) == 1  # counted as an unusable entry
    assert llm.pipeline.failures[expected[0]] >= 1


# -- (b) single-flight on every path -----------------------------------------------------


def _concurrently(llm: LLM, path: str, n: int = 20) -> list[Any]:
    """``n`` identical calls at once: threads for sync paths, gather for async ones."""
    if path.startswith("a"):

        async def main() -> list[Any]:
            return await asyncio.gather(
                *(acall(llm, path) for _ in range(n)), return_exceptions=True
            )

        return asyncio.run(main())
    barrier = threading.Barrier(n)

    def one(_: int) -> Any:
        barrier.wait()
        try:
            return call(llm, path)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("path", PATHS)
def test_twenty_identical_misses_make_one_call(path):
    inner = Fake(delay=0.3)
    llm = OptimizedLLM(inner, cache=exact())
    results = _concurrently(llm, path)
    assert inner.calls == 1
    assert all(isinstance(r, tuple) and r[0] == REPLY for r in results), results


@pytest.mark.parametrize("path", PATHS)
def test_a_failing_leader_hands_the_call_to_one_waiter(path):
    inner = Fake(delay=0.3, fail_first=1)
    llm = OptimizedLLM(inner, cache=exact())
    results = _concurrently(llm, path)
    assert inner.calls == 2
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and "503" in str(errors[0])
    assert sum(isinstance(r, tuple) and r[0] == REPLY for r in results) == 19


# -- (c) budgets hold under concurrency --------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_eight_concurrent_dollar_calls_never_pass_a_five_dollar_budget(path):
    budget = SpendBudget(5.0)
    llm = OptimizedLLM(Fake(delay=0.2), budget=budget, prices=PRICES)
    if path.startswith("a"):

        async def main() -> list[Any]:
            return await asyncio.gather(
                *(acall(llm, path, f"question {i}") for i in range(8)), return_exceptions=True
            )

        results = asyncio.run(main())
    else:

        def one(i: int) -> Any:
            try:
                return call(llm, path, f"question {i}")
            except BudgetExceededError as exc:
                return exc

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(8)))
    answered = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answered) == 5 and len(refused) == 3, results
    assert budget.spent_usd == pytest.approx(5.0) and budget.reserved_usd == 0.0
    with pytest.raises(BudgetExceededError):
        call(llm, path, "one more")


@pytest.mark.parametrize("path", ["stream_chat", "stream_complete"])
def test_a_stream_stopped_early_is_charged_for_what_it_generated(path):
    budget = SpendBudget(5.0)
    llm = OptimizedLLM(Fake(), budget=budget, prices=PRICES)
    list(getattr(llm, path)(user("full") if "chat" in path else "full"))
    assert budget.spent_usd == pytest.approx(1.0)  # the provider's usage: 4 tokens
    stream = getattr(llm, path)(user("cut") if "chat" in path else "cut")
    next(stream)
    stream.close()
    cut = budget.spent_usd - 1.0
    assert 0.0 < cut < 1.0 and budget.reserved_usd == 0.0


@pytest.mark.parametrize("path", ["astream_chat", "astream_complete"])
async def test_an_async_stream_stopped_early_is_charged_for_what_it_generated(path):
    budget = SpendBudget(5.0)
    llm = OptimizedLLM(Fake(), budget=budget, prices=PRICES)
    stream = await getattr(llm, path)(user("full") if "chat" in path else "full")
    [c async for c in stream]
    assert budget.spent_usd == pytest.approx(1.0)
    stream = await getattr(llm, path)(user("cut") if "chat" in path else "cut")
    await stream.__anext__()
    await stream.aclose()
    cut = budget.spent_usd - 1.0
    assert 0.0 < cut < 1.0 and budget.reserved_usd == 0.0


def test_a_routed_budget_is_charged_at_the_table_prices():
    budget = SpendBudget(1.0)
    llm = RoutingLLM({"small": Fake(), "large": Fake()}, Router(TABLE), budget=budget)
    llm.complete(QUESTION)
    assert 0.0 < budget.spent_usd < 0.001 and budget.reserved_usd == 0.0


def test_an_unpriced_model_under_a_budget_says_how_to_price_it():
    with pytest.raises(ConfigError, match="with_prices"):
        OptimizedLLM(Fake(model="no-such-model"), budget=SpendBudget(5.0))


# -- (d) the cache key covers the whole configuration, secrets excluded -------------------


@pytest.mark.parametrize("path", PATHS)
def test_llms_differing_in_additional_kwargs_do_not_share_answers(path):
    cache = exact()
    seeded = Fake(additional_kwargs={"seed": 1, "response_format": {"type": "json_object"}})
    other_seed = Fake(additional_kwargs={"seed": 2, "response_format": {"type": "json_object"}})
    plain = Fake()
    for inner in (seeded, other_seed, plain):
        call(OptimizedLLM(inner, cache=cache), path)
    assert (seeded.calls, other_seed.calls, plain.calls) == (1, 1, 1)
    other_key = Fake(additional_kwargs={"seed": 1, "response_format": {"type": "json_object"}})
    other_key.api_key = "sk-another"
    _, meta = call(OptimizedLLM(other_key, cache=cache), path)
    assert other_key.calls == 0 and meta[CACHE_HIT_KEY] == "exact_cache"


def test_the_key_keeps_nested_values_and_counts_and_drops_secrets():
    llm = Fake(additional_kwargs={"seed": 7, "headers": {"Authorization": "Bearer x"}})
    key = llm_key(llm, "chat", {"api_key": "sk-call"})
    assert '"seed": 7' in key and '"max_tokens": 4' in key
    assert "sk-" not in key and "Bearer" not in key and "callback_manager" not in key
    assert llm_key(Fake(max_tokens=5), "chat", {}) != llm_key(Fake(), "chat", {})


# -- (e) metadata JSON cannot hold is converted when stored -------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_metadata_json_cannot_hold_is_stored_converted_and_the_repeat_rebuilds(path):
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    ident = uuid.UUID(int=7)
    inner = Fake(
        extra={
            "created": when,
            "cost": decimal.Decimal("0.10"),
            "id": ident,
            "raw": b"hi",
            "tags": {"b", "a"},
        }
    )
    llm = OptimizedLLM(inner, cache=exact())
    call(llm, path)
    text, meta = call(llm, path)
    assert text == REPLY and inner.calls == 1 and meta[CACHE_HIT_KEY] == "exact_cache"
    assert meta["created"] == when.isoformat() and meta["cost"] == "0.10"
    assert meta["id"] == str(ident) and meta["raw"] == "aGk=" and meta["tags"] == ["a", "b"]


# -- the context stage and routing through the wrapper ------------------------------------


def test_a_window_fits_the_history_sent_and_the_cache_keys_on_the_callers_messages():
    from tokenomy.embed import HashingEmbedder

    inner = Fake()
    window = ConversationWindow(
        max_tokens=60, overlap_tokens=0, summarizer=None, embedder=HashingEmbedder()
    )
    llm = OptimizedLLM(inner, cache=exact(), window=window)
    history = []
    for i in range(12):
        history += [
            ChatMessage(
                role=MessageRole.USER, content=f"Filler turn number {i} about the weather."
            ),
            ChatMessage(role=MessageRole.ASSISTANT, content="I see."),
        ]
    history.append(ChatMessage(role=MessageRole.USER, content=QUESTION))
    reply = llm.chat(history)
    assert len(inner.seen[0]) < len(history) and inner.seen[0][-1] is history[-1]
    assert ("context", "applied") in stages(reply.additional_kwargs)
    assert llm.chat(history).additional_kwargs[CACHE_HIT_KEY] == "exact_cache"


def test_routing_reports_the_decision_under_the_langchain_key():
    small, large = Fake(reply="from small"), Fake(reply="from large")
    llm = OptimizedLLM(
        llms={"small": small, "large": large}, router=Router(TABLE, quality_target=0.6)
    )
    reply = llm.chat(user(QUESTION))
    assert reply.message.content == "from small"
    route = reply.additional_kwargs[ROUTE_KEY]
    assert route["model"] == "small" and route["attempts"][0]["outcome"] == "ok"
    assert llm.metadata.model_name == "router(small,large)"


def test_the_old_names_are_the_one_wrapper():
    assert issubclass(SemanticCacheLLM, OptimizedLLM) and issubclass(RoutingLLM, OptimizedLLM)
    assert isinstance(SemanticCacheLLM(Fake()).cache, SemanticCache)  # on by default
    assert OptimizedLLM(Fake()).cache is None


def test_constructor_errors():
    with pytest.raises(ConfigError, match="unknown keyword"):
        OptimizedLLM(Fake(), compress_ration=0.3)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="exactly one"):
        OptimizedLLM()
    with pytest.raises(ConfigError, match="ratio"):
        OptimizedLLM(Fake(), compress_ratio=1.5)
    with pytest.raises(ConfigError, match="pass llms"):
        OptimizedLLM(Fake(), router=Router(TABLE))
