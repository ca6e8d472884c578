"""The request pipeline on every call path: stages in order, never failing the call
over an optimization, budgets that hold under concurrency, single-flight."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tokenomy.budget import SpendBudget
from tokenomy.cache import Answer, SemanticCache
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.pipeline import ContextStage, Pipeline, Request, Sent, Trace
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.tokens import PriceTable, TokenUsage

PATHS = ["run", "arun", "stream", "astream"]
WORDS = "one two three four five six seven eight nine ten"
# $0.10 per output token, nothing for input: a 10-word answer costs $1.00, and a
# call capped at max_tokens=10 reserves exactly $1.00.
PRICES = PriceTable.default().with_prices({"unit-model": {"input": 0.0, "output": 100_000.0}})


@dataclass
class Reply:
    text: str
    trace: Trace | None = None
    served: str | None = None


@dataclass
class TraceChunk:
    trace: Trace


class Codec:
    def answer(self, result: Reply, sent: Sent) -> Answer:
        return Answer(
            payload=json.dumps({"text": result.text}),
            text=result.text,
            model=sent.request.model,
            usage=TokenUsage(5, len(result.text.split())),
        )

    def rebuild(self, payload: str, served: str) -> Reply:
        return Reply(json.loads(payload)["text"], served=served)

    def merge(self, chunks: list[Any]) -> Reply:
        return Reply("".join(c for c in chunks if isinstance(c, str)))

    def replay(self, result: Reply) -> list[Any]:
        words = result.text.split(" ")
        out: list[Any] = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        return [*out, TraceChunk(result.trace)] if result.trace is not None else out

    def annotate(self, result: Reply, trace: Trace) -> Reply:
        return replace(result, trace=trace)

    def last_chunk(self, trace: Trace) -> TraceChunk:
        return TraceChunk(trace)


class Provider:
    """A fake model: counts calls, can hold them at a gate, fail the first, or fail all."""

    def __init__(self, text: str = WORDS, *, fail: str | None = None) -> None:
        self.text = text
        self.fail = fail  # None, "first" or "always"
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Semaphore(0)
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def _enter(self, sent: Sent) -> int:
        with self._lock:
            self.calls += 1
            n = self.calls
            self.sent.append(sent)
        self.entered.release()
        return n

    def _check(self, n: int) -> None:
        if self.fail == "always" or (self.fail == "first" and n == 1):
            raise RuntimeError("provider down")

    def call(self, sent: Sent) -> Reply:
        n = self._enter(sent)
        if self.gate is not None:
            self.gate.wait(10)
        self._check(n)
        return Reply(self.text)

    async def acall(self, sent: Sent) -> Reply:
        n = self._enter(sent)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.005)
        self._check(n)
        return Reply(self.text)

    def stream(self, sent: Sent):
        n = self._enter(sent)
        if self.gate is not None:
            self.gate.wait(10)
        self._check(n)
        yield from Codec().replay(Reply(self.text))

    async def astream(self, sent: Sent):
        n = self._enter(sent)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.005)
        self._check(n)
        for chunk in Codec().replay(Reply(self.text)):
            yield chunk


def _collect(chunks: list[Any]) -> Reply:
    traces = [c.trace for c in chunks if isinstance(c, TraceChunk)]
    return Reply("".join(c for c in chunks if isinstance(c, str)), traces[-1] if traces else None)


async def _adrive(pipe: Pipeline, path: str, request: Request, provider: Provider) -> Reply:
    if path == "arun":
        return await pipe.arun(request, provider.acall, Codec())
    return _collect([c async for c in pipe.astream(request, provider.astream, Codec())])


def drive(pipe: Pipeline, path: str, request: Request, provider: Provider) -> Reply:
    """One call on ``path``: the reply, with its trace."""
    if path == "run":
        return pipe.run(request, provider.call, Codec())
    if path == "stream":
        return _collect(list(pipe.stream(request, provider.stream, Codec())))
    return asyncio.run(_adrive(pipe, path, request, provider))


def ask(text: str = "What is the capital of France?", **fields: Any) -> Request:
    return Request(messages=({"role": "user", "content": text},), model="unit-model", **fields)


def exact_cache() -> SemanticCache:
    return SemanticCache(mode="exact")


# -- the happy path -----------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_miss_is_stored_and_the_repeat_is_a_hit_on_every_path(path):
    pipe = Pipeline(cache=exact_cache())
    provider = Provider()
    first = drive(pipe, path, ask(), provider)
    second = drive(pipe, path, ask(), provider)
    assert first.text == second.text == WORDS
    assert provider.calls == 1
    assert [r.outcome for r in first.trace.records if r.stage == "cache"] == ["miss"]
    assert second.trace.outcome("cache") == "hit"
    assert second.trace.as_dict()["saved_tokens"] == 15  # 5 in + 10 out


@pytest.mark.parametrize("path", PATHS)
def test_the_provider_sees_the_trace_so_far_and_its_records_reach_the_caller(path):
    pipe = Pipeline(cache=exact_cache())
    provider = Provider()
    seen: list[str | None] = []
    for name in ("call", "acall", "stream", "astream"):
        inner = getattr(provider, name)

        def noting(sent: Sent, inner: Any = inner) -> Any:
            assert sent.trace is not None
            seen.append(sent.trace.outcome("cache"))
            sent.trace.add("dedup", "leader", "a front door's own stage")
            return inner(sent)

        setattr(provider, name, noting)
    reply = drive(pipe, path, ask(), provider)
    assert seen == ["miss"]
    assert reply.trace.outcome("dedup") == "leader"
    assert replace(provider.sent[0], trace=None) == provider.sent[0]  # not part of equality


@pytest.mark.parametrize("path", ["arun", "astream"])
def test_an_exact_memory_cache_runs_on_the_loop_and_io_tiers_in_a_thread(path, monkeypatch):
    hops: list[str] = []
    real = asyncio.to_thread

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", "?"))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    for _ in range(2):
        drive(Pipeline(cache=exact_cache()), path, ask(), Provider())
    assert hops == []
    from fakes import BrokenTier

    slow = BrokenTier()
    slow.healthy = True
    drive(Pipeline(cache=SemanticCache(mode="exact", tiers=[slow])), path, ask(), Provider())
    assert "lookup" in hops


def test_the_request_takes_messages_or_a_prompt_and_says_so():
    with pytest.raises(ConfigError, match="exactly one"):
        Request()
    with pytest.raises(ConfigError, match="exactly one"):
        Request(messages=({"role": "user", "content": "x"},), prompt="x")
    with pytest.raises(ConfigError, match="max_tokens"):
        Request(prompt="x", max_tokens=0)
    with pytest.raises(ConfigError, match=r"price_factor must be in \(0, 1\]"):
        Request(prompt="x", price_factor=0.0)


def test_the_callers_messages_are_never_changed_and_origins_map_back():
    class Window:  # evicts the first message and adds a summary
        counter = type("C", (), {"model": "gpt-4o"})()

        def fit(self, messages, **_):
            from tokenomy.context import WindowResult

            return WindowResult(
                messages=(),
                kept=(1, 2),
                evicted=(0,),
                summary="earlier: hello",
                summary_position=0,
                original_tokens=30,
                sent_tokens=20,
                budget_tokens=25,
            )

    messages = (
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "and now?"},
    )
    before = json.dumps(messages)
    pipe = Pipeline(context=ContextStage(window=Window(), dedupe=False))
    provider = Provider()
    reply = drive(pipe, "run", Request(messages=messages), provider)
    sent = provider.sent[0]
    assert json.dumps(messages) == before
    assert sent.origins == (None, 1, 2)
    assert sent.messages[0]["content"].endswith("earlier: hello")
    assert reply.trace.outcome("context") == "applied"
    assert reply.trace.as_dict()["saved_tokens"] == 10


# -- never fail the call over an optimization --------------------------------------------


class BoomError(RuntimeError):
    pass


def _raise(*_: Any, **__: Any) -> Any:
    raise BoomError("injected")


def _faulty(stage: str) -> tuple[Pipeline, Any]:
    """A pipeline whose ``stage`` raises, and the codec to use."""
    codec = Codec()
    cache = exact_cache()
    kwargs: dict[str, Any] = {"cache": cache}
    if stage == "cache lookup":
        cache.lookup = _raise  # type: ignore[method-assign]
    elif stage == "cache store":
        cache.store = _raise  # type: ignore[method-assign]
    elif stage == "context":
        window = type("W", (), {"fit": _raise, "counter": None})()
        kwargs["context"] = ContextStage(window=window)
    elif stage == "route":
        router = Router(ModelTable([ModelSpec("a", 1, 1, quality=0.6), ModelSpec("b", 2, 2)]))
        router.route_or_best = _raise  # type: ignore[method-assign]
        kwargs["router"] = router
    elif stage == "output":
        kwargs["output"] = type("O", (), {"plan": _raise})()
    elif stage == "settle":
        codec.answer = _raise  # type: ignore[method-assign]
    return Pipeline(**kwargs), codec


STAGES = {
    "cache lookup": "cache",
    "cache store": "settle",
    "context": "context",
    "route": "route",
    "output": "output",
    "settle": "settle",
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_that_raises_is_skipped_named_and_counted(path, stage, caplog):
    pipe, codec = _faulty(stage)
    provider = Provider()
    request = ask()

    if path == "run":
        reply = pipe.run(request, provider.call, codec)
    elif path == "stream":
        reply = _collect(list(pipe.stream(request, provider.stream, codec)))
    elif path == "arun":
        reply = asyncio.run(pipe.arun(request, provider.acall, codec))
    else:
        reply = _collect(asyncio.run(_alist(pipe.astream(request, provider.astream, codec))))
    assert reply.text == WORDS
    assert STAGES[stage] in reply.trace.skipped
    assert pipe.failures[STAGES[stage]] >= 1
    assert "was skipped" in caplog.text


async def _alist(stream) -> list[Any]:
    return [c async for c in stream]


def test_a_failing_stage_is_logged_once_per_stage_and_error(caplog):
    pipe, codec = _faulty("cache lookup")
    for _ in range(3):
        pipe.run(ask(), Provider().call, codec)
    assert caplog.text.count("was skipped") == 1
    assert pipe.failures["cache"] == 3


@pytest.mark.parametrize("path", PATHS)
def test_an_entry_that_cannot_be_rebuilt_is_a_miss_and_is_discarded(path):
    cache = exact_cache()
    cache.store(ask().cache_prompt, Answer(payload="not json", text="x"), llm="")
    pipe = Pipeline(cache=cache)
    provider = Provider()
    reply = drive(pipe, path, ask(), provider)
    assert reply.text == WORDS and provider.calls == 1
    assert reply.trace.records[0].outcome == "miss"
    assert "JSONDecodeError" in reply.trace.records[0].detail
    assert drive(pipe, path, ask(), provider).trace.outcome("cache") == "hit"  # replaced


@pytest.mark.parametrize("path", PATHS)
def test_the_providers_own_error_reaches_the_caller_and_frees_the_reservation(path):
    budget = SpendBudget(5.0)
    pipe = Pipeline(budget=budget, cache=exact_cache(), prices=PRICES)
    with pytest.raises(RuntimeError, match="provider down"):
        drive(pipe, path, ask(max_tokens=10), Provider(fail="always"))
    assert budget.spent_usd == 0.0 and budget.reserved_usd == 0.0


def test_fallback_moves_to_the_next_model_and_the_trace_says_so():
    table = ModelTable([ModelSpec("a", 0.1, 0.4, quality=0.7), ModelSpec("b", 2.5, 10.0)])
    pipe = Pipeline(router=Router(table, quality_target=0.6))
    calls: list[str | None] = []

    def call(sent: Sent) -> Reply:
        calls.append(sent.model)
        if sent.model == "a":
            raise TimeoutError("slow")
        return Reply("from b")

    reply = pipe.run(ask(), call, Codec())
    assert calls == ["a", "b"] and reply.text == "from b"
    assert reply.trace.route["model"] == "b"
    assert [a["outcome"] for a in reply.trace.route["attempts"]] == ["timeout", "ok"]
    assert reply.trace.outcome("call") == "fallback"


# -- budgets that hold -----------------------------------------------------------------


def _budget_pipeline(budget: SpendBudget) -> Pipeline:
    return Pipeline(budget=budget, prices=PRICES)


def _wait_entered(provider: Provider, n: int) -> None:
    for _ in range(n):
        assert provider.entered.acquire(timeout=10)


@pytest.mark.parametrize("path", ["run", "stream"])
def test_a_budget_holds_under_eight_threads(path):
    budget = SpendBudget(5.0)
    pipe = _budget_pipeline(budget)
    provider = Provider()
    provider.gate = threading.Event()
    refused: list[BaseException] = []
    done: list[Reply] = []

    def worker(i: int) -> None:
        try:
            done.append(drive(pipe, path, ask(f"question {i}", max_tokens=10), provider))
        except BudgetExceededError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    _wait_entered(provider, 5)  # five $1 reservations fit; the others are refused at once
    deadline = time.monotonic() + 10
    while len(refused) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    provider.gate.set()
    for t in threads:
        t.join()
    assert provider.calls == 5 and len(done) == 5 and len(refused) == 3
    assert "reserved by calls in flight" in str(refused[0])
    assert budget.spent_usd == pytest.approx(5.0) and budget.reserved_usd == 0.0
    with pytest.raises(BudgetExceededError, match="used up"):
        drive(pipe, path, ask("one more", max_tokens=10), provider)
    budget.check()


@pytest.mark.parametrize("path", ["arun", "astream"])
async def test_a_budget_holds_under_eight_tasks(path):
    budget = SpendBudget(5.0)
    pipe = _budget_pipeline(budget)
    provider = Provider()
    provider.gate = threading.Event()

    async def one(i: int) -> Reply:
        return await _adrive(pipe, path, ask(f"question {i}", max_tokens=10), provider)

    tasks = [asyncio.create_task(one(i)) for i in range(8)]
    while provider.calls < 5 or sum(t.done() for t in tasks) < 3:
        await asyncio.sleep(0.005)
    provider.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, BudgetExceededError) for r in results) == 3
    assert provider.calls == 5
    assert budget.spent_usd == pytest.approx(5.0) and budget.reserved_usd == 0.0


@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_stream_stopped_early_is_charged_for_what_it_generated_and_not_stored(path):
    budget = SpendBudget(5.0)
    cache = exact_cache()
    pipe = Pipeline(budget=budget, cache=cache, prices=PRICES)
    provider = Provider()
    if path == "stream":
        stream = pipe.stream(ask(max_tokens=10), provider.stream, Codec())
        taken = [next(stream) for _ in range(3)]
        stream.close()
    else:

        async def take() -> list[Any]:
            stream = pipe.astream(ask(max_tokens=10), provider.astream, Codec())
            out = [await stream.__anext__() for _ in range(3)]
            await stream.aclose()
            return out

        taken = asyncio.run(take())
    assert taken == ["one ", "two ", "three "]
    assert budget.spent_usd == pytest.approx(0.3) and budget.reserved_usd == 0.0
    assert cache.stats().stores == 0


def test_a_budget_needs_a_price_and_says_how_to_add_one():
    pipe = Pipeline(budget=SpendBudget(1.0))
    with pytest.raises(ConfigError, match="with_prices"):
        pipe.run(Request(prompt="hi", model="my-own-model"), Provider().call, Codec())


def test_a_routed_call_reserves_at_the_dearest_candidate_and_settles_at_the_chosen():
    table = ModelTable([ModelSpec("a", 0.0, 1e5, quality=0.7), ModelSpec("b", 0.0, 2e5)])
    budget = SpendBudget(2.5)
    pipe = Pipeline(budget=budget, router=Router(table, quality_target=0.6))
    seen: list[float] = []

    def call(sent: Sent) -> Reply:
        seen.append(budget.reserved_usd)
        return Reply(WORDS)

    pipe.run(ask(max_tokens=10), call, Codec())
    assert seen == [pytest.approx(2.0)]  # 10 tokens at b's $0.20
    assert budget.spent_usd == pytest.approx(1.0)  # 10 tokens at a's $0.10


# -- single-flight -----------------------------------------------------------------------


def _key(pipe: Pipeline, request: Request) -> Any:
    key = pipe.cache.key(request.cache_prompt, llm=request.llm)
    return (key.partition, key.exact)


@pytest.mark.parametrize("path", ["run", "stream"])
@pytest.mark.parametrize("fail", [None, "first"])
def test_twenty_identical_misses_make_one_call_and_a_failed_leader_two(path, fail):
    pipe = Pipeline(cache=exact_cache())
    provider = Provider(fail=fail)
    provider.gate = threading.Event()
    replies: list[Reply] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            replies.append(drive(pipe, path, ask(), provider))
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    _wait_entered(provider, 1)
    flight = pipe.cache.flight.current(_key(pipe, ask()))
    deadline = time.monotonic() + 10
    while flight.waiters < 19 and time.monotonic() < deadline:
        time.sleep(0.005)
    provider.gate.set()
    for t in threads:
        t.join()
    assert provider.calls == (1 if fail is None else 2), [r.trace for r in replies][:3]
    assert len(errors) == (0 if fail is None else 1)
    assert len(replies) == 20 - len(errors)
    assert all(r.text == WORDS for r in replies)
    shared = [r for r in replies if r.trace.outcome("cache") == "shared"]
    assert len(shared) == len(replies) - 1


@pytest.mark.parametrize("path", ["arun", "astream"])
@pytest.mark.parametrize("fail", [None, "first"])
async def test_twenty_identical_async_misses_make_one_call_and_a_failed_leader_two(path, fail):
    pipe = Pipeline(cache=exact_cache())
    provider = Provider(fail=fail)
    provider.gate = threading.Event()
    tasks = [asyncio.create_task(_adrive(pipe, path, ask(), provider)) for _ in range(20)]
    while provider.calls < 1:
        await asyncio.sleep(0.005)
    flight = pipe.cache.flight.current(_key(pipe, ask()))
    while flight.waiters < 19:
        await asyncio.sleep(0.005)
    provider.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert provider.calls == (1 if fail is None else 2)
    assert len(errors) == (0 if fail is None else 1)
    assert all(r.text == WORDS for r in results if not isinstance(r, BaseException))


def test_a_long_completion_prompt_is_compressed_and_the_cache_keys_on_the_callers():
    from tokenomy.compress import ExtractiveCompressor
    from tokenomy.embed import HashingEmbedder

    filler = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(120))
    prompt = f"{filler}\n\nWhich topic does sentence 3 talk about?"
    stage = ContextStage(compressor=ExtractiveCompressor(embedder=HashingEmbedder()), min_tokens=50)
    cache = exact_cache()
    pipe = Pipeline(cache=cache, context=stage)
    provider = Provider()
    reply = pipe.run(Request(prompt=prompt), provider.call, Codec())
    sent = provider.sent[0]
    assert sent.prompt is not None and len(sent.prompt) < len(prompt) / 2
    assert sent.prompt.endswith("Which topic does sentence 3 talk about?")
    assert reply.trace.outcome("context") == "applied"
    assert pipe.run(Request(prompt=prompt), provider.call, Codec()).trace.outcome("cache") == "hit"


def test_a_new_leader_rechecks_the_exact_entry_before_calling():
    cache = exact_cache()
    pipe = Pipeline(cache=cache)
    provider = Provider()
    original = cache.lookup

    def late_lookup(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)  # a miss, then another call stores meanwhile
        cache.store(ask().cache_prompt, Codec().answer(Reply("stored meanwhile"), _sent()))
        return found

    cache.lookup = late_lookup  # type: ignore[method-assign]
    reply = pipe.run(ask(), provider.call, Codec())
    assert provider.calls == 0 and reply.text == "stored meanwhile"
    assert reply.trace.outcome("cache") == "hit"


def _sent() -> Sent:
    return Sent(ask(), ask().messages, (0,))


def test_a_budget_still_holds_when_the_token_counter_fails():
    budget = SpendBudget(5.0)
    router = Router(ModelTable([ModelSpec("a", 0.0, 100_000.0)]))
    router.counter = type("Broken", (), {"count": _raise, "count_messages": _raise})()
    pipe = Pipeline(budget=budget, router=router)
    reply = pipe.run(ask(max_tokens=10), Provider().call, Codec())
    assert reply.text == WORDS and "budget" in reply.trace.skipped
    assert budget.spent_usd == pytest.approx(1.0)


def test_an_answer_billed_at_a_discount_is_charged_and_recorded_at_it():
    from tokenomy.monitor import UsageRecorder

    class BatchCodec(Codec):  # an answer from a Batch API job: billed at half price
        def answer(self, result: Reply, sent: Sent) -> Answer:
            return replace(super().answer(result, sent), price_factor=0.5)

    budget, recorder = SpendBudget(100.0), UsageRecorder(prices=PRICES)
    pipe = Pipeline(budget=budget, prices=PRICES, recorder=recorder, record_calls=True)
    pipe.run(ask(max_tokens=10), Provider().call, BatchCodec())
    assert budget.spent_usd == pytest.approx(0.5)  # ten words at $0.10, half price
    assert recorder.ledger.totals().cost_usd == pytest.approx(0.5)
