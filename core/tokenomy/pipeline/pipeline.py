"""The request pipeline: every optimization written once, for every front door.

A front door (a LangChain chat model or cache, a LlamaIndex LLM, the gateway)
translates its call into a :class:`~tokenomy.pipeline.Request`, hands over a
provider callable and a :class:`Codec` for its own result type, and gets its own
result back. Each request passes each stage once, in this order::

    budget (reserve an upper bound) -> cache lookup, single-flight -> context
    (window, de-dup, compression) -> routing -> response-length plan -> provider
    call, with fallback -> settle (store the answer, charge the actual cost,
    release the reservation, record)

Sync, async and streaming share the stages; only the provider call differs. A
stage that raises is skipped, logged once per stage and error type, counted in
:attr:`Pipeline.failures` and named in the call's trace. Only a spend limit
(:class:`~tokenomy.errors.BudgetExceededError`) and the provider's own error after
every fallback reach the caller.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from tokenomy.cache import Answer, CacheHit, CacheKey, SemanticCache
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.output import OutputControl
from tokenomy.pipeline import output as out_stage
from tokenomy.pipeline.context import ContextStage
from tokenomy.pipeline.request import Request, Sent, Trace
from tokenomy.route import FallbackChain, Router
from tokenomy.route.cascade import Attempt, astream_first, stream_first
from tokenomy.text.messages import last_user_message, message_text
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

if TYPE_CHECKING:
    from tokenomy.budget import Budget, Reservation
    from tokenomy.cache.singleflight import Flight

__all__ = ["DEFAULT_EXPECTED_OUTPUT_TOKENS", "Codec", "OutputPlanner", "Pipeline", "Recorder"]

log = logging.getLogger(__name__)

R = TypeVar("R")
C = TypeVar("C")
T = TypeVar("T")

DEFAULT_EXPECTED_OUTPUT_TOKENS = 256
"""Answer length reserved against a budget when the caller sets no ``max_tokens``."""


class Codec(Protocol[R, C]):
    """How a front door's result type meets the pipeline (``R`` result, ``C`` chunk)."""

    def answer(self, result: R, sent: Sent) -> Answer:
        """What to store and charge for ``result`` (payload, text, usage, model)."""
        ...

    def rebuild(self, payload: str, served: str) -> R:
        """A result from a stored payload; ``served`` names the technique
        (``exact_cache``, ``semantic_cache``, ``single_flight``). May raise: the
        entry is then a miss and is discarded."""
        ...

    def merge(self, chunks: Sequence[C]) -> R:
        """The result a finished (or cut) stream adds up to."""
        ...

    def replay(self, result: R) -> Iterable[C]:
        """A finished result as stream chunks."""
        ...

    def annotate(self, result: R, trace: Trace) -> R:
        """``result`` with the trace (and route) in its metadata."""
        ...

    def last_chunk(self, trace: Trace) -> C | None:
        """A final chunk carrying the trace of a stream, or None."""
        ...


class Recorder(Protocol):
    """Where the pipeline records calls (:class:`tokenomy.monitor.UsageRecorder` is one)."""

    def record_call(
        self,
        *,
        model: str | None,
        usage: TokenUsage | None = ...,
        prompt: Any = ...,
        output_text: str | None = ...,
        tags: Mapping[str, str] | None = ...,
        cache_hit: str | None = ...,
        details: Mapping[str, Any] | None = ...,
    ) -> Any: ...


class OutputPlanner(Protocol):
    """The response-length slot: the answer cap to send, or None to leave it."""

    def plan(self, sent: Sent) -> int | None: ...


class Pipeline(Generic[R, C]):
    """The stages of a request, in one order, for every call path.

    Args:
        budget: a :class:`~tokenomy.budget.Budget` (``SpendBudget`` in process,
            ``RedisBudget`` shared): each call reserves its upper-bound cost first
            (prompt tokens and ``max_tokens``, or ``expected_output_tokens``, at the
            most expensive candidate model's price) under its ``Request.labels``
            (tags, model, scope, session: the limits that cover it) and settles to
            the actual cost.
        cache: a :class:`~tokenomy.cache.SemanticCache` (None: no caching).
        context: a :class:`~tokenomy.pipeline.ContextStage` (None: messages sent
            as they are).
        router: a :class:`~tokenomy.route.Router`; the provider callable then gets
            the chosen model's name in ``sent.model``.
        models: the names the front door can call (default: the router's table).
        fallback: on a failed call try the router's other models (default True).
        timeout_s: per-model time limit before falling back (default None).
        output: the response-length planner (default None: the caller's cap).
        prices: prices for the budget (default: the bundled table).
        recorder: a usage recorder; cache hits are recorded as tokens saved, and
            real calls too when ``record_calls`` (leave it False when the
            framework's usage handler already records them).
        expected_output_tokens: see ``budget`` (default 256).

    Example:
        >>> from tokenomy.pipeline import Request, TextCodec
        >>> pipe = Pipeline(cache=SemanticCache(mode="exact"))
        >>> ask = lambda sent: "4"
        >>> pipe.run(Request(prompt="2 + 2?"), ask, TextCodec())
        '4'
        >>> pipe.run(Request(prompt="2 + 2?"), lambda sent: "five", TextCodec())
        '4'
    """

    def __init__(
        self,
        *,
        budget: Budget | None = None,
        cache: SemanticCache | None = None,
        context: ContextStage | None = None,
        router: Router | None = None,
        models: Collection[str] | None = None,
        fallback: bool = True,
        timeout_s: float | None = None,
        output: OutputPlanner | None = None,
        prices: PriceTable | None = None,
        recorder: Recorder | None = None,
        record_calls: bool = False,
        expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS,
    ) -> None:
        if cache is not None and not isinstance(cache, SemanticCache):
            raise ConfigError(
                f"cache must be a tokenomy SemanticCache; got {type(cache).__name__}."
            )
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0 or None; got {timeout_s!r}.")
        if expected_output_tokens < 1:
            raise ConfigError(
                f"expected_output_tokens must be >= 1; got {expected_output_tokens!r}."
            )
        if router is not None and models is not None:
            router.check_names(models)
        self.budget = budget
        self.cache = cache
        self.context = context if context is not None and context.active else None
        self.router = router
        self.models = list(models) if models is not None else None
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.output = output
        self.prices = prices or PriceTable.default()
        self.recorder = recorder
        self.record_calls = record_calls
        self.expected_output_tokens = expected_output_tokens
        self.failures: Counter[str] = Counter()
        """Stage failures by stage name (each one skipped the stage for that call)."""
        self._logged: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._counters: dict[str, TokenCounter] = {}

    # -- the four call paths --------------------------------------------------------------

    def run(self, request: Request, call: Callable[[Sent], R], codec: Codec[R, C]) -> R:
        """One call: ``call(sent)`` is the provider (it sees ``sent.model`` when routed)."""
        trace = Trace()
        reservation = self._reserve(request, trace)
        try:
            hit = self._lookup(request, trace)
            served = self._serve(request, hit, codec, trace) if hit is not None else None
            if served is not None:
                return served
            flight = self._follow(request, trace)
            if isinstance(flight, _Done):
                shared = self._serve_shared(request, flight, codec, trace)
                if shared is not None:
                    return shared
                flight = None  # its answer cannot be used here: call without single-flight
            try:
                result, answer = self._produce(request, call, codec, trace, reservation)
            except BaseException:
                _abandon(flight)
                raise
            _resolve(flight, answer)
            return result
        finally:
            self._release(reservation)

    async def arun(
        self, request: Request, call: Callable[[Sent], Awaitable[R]], codec: Codec[R, C]
    ) -> R:
        """:meth:`run` for a coroutine provider; blocking stages run in a worker thread."""
        trace = Trace()
        reservation = self._reserve(request, trace)
        try:
            hit = await self._athread(self._cache_blocks(), self._lookup, request, trace)
            served = self._serve(request, hit, codec, trace) if hit is not None else None
            if served is not None:
                return served
            flight = await self._afollow(request, trace)
            if isinstance(flight, _Done):
                shared = self._serve_shared(request, flight, codec, trace)
                if shared is not None:
                    return shared
                flight = None
            try:
                sent, order = await self._athread(self._prepares(), self._prepare, request, trace)
                result, model = await self._ainvoke(order, sent, call, trace)
                result = await self._acontinue(sent, model, result, call, codec, trace)
                answer = await self._athread(
                    self._cache_blocks(),
                    self._settle,
                    sent,
                    model,
                    result,
                    codec,
                    reservation,
                    trace,
                )
            except BaseException:
                _abandon(flight)
                raise
            _resolve(flight, answer)
            return codec.annotate(result, trace)
        finally:
            self._release(reservation)

    def stream(
        self, request: Request, start: Callable[[Sent], Iterator[C]], codec: Codec[R, C]
    ) -> Iterator[C]:
        """A streamed call: a hit replays as a stream; a finished stream is stored; a
        stream the caller stops is charged for what was generated and not stored."""
        trace = Trace()
        reservation = self._reserve(request, trace)
        try:
            hit = self._lookup(request, trace)
            served = self._serve(request, hit, codec, trace) if hit is not None else None
            if served is not None:
                yield from self._replayed(served, request, codec, trace)
                return
            flight = self._follow(request, trace)
            if isinstance(flight, _Done):
                shared = self._serve_shared(request, flight, codec, trace)
                if shared is not None:
                    yield from codec.replay(shared)
                    return
                flight = None
            sent, order = self._prepare(request, trace)
            chunks: list[C] = []
            attempts: list[Attempt] = []
            watch = self._watch(sent, codec, trace)
            upstream = self._stream_call(order, sent, start, attempts)
            try:
                for chunk in upstream if watch is None else watch.sync(upstream):
                    chunks.append(chunk)
                    yield chunk
            except BaseException:
                self._cut(sent, order, attempts, chunks, codec, reservation, trace)
                _abandon(flight)
                raise
            _stopped(watch, order, attempts, trace)
            yield from self._finish_stream(
                sent, attempts, chunks, codec, reservation, trace, flight, watch=watch
            )
        finally:
            self._release(reservation)

    async def astream(
        self,
        request: Request,
        start: Callable[[Sent], AsyncIterator[C]],
        codec: Codec[R, C],
    ) -> AsyncIterator[C]:
        """:meth:`stream` for an async provider stream."""
        trace = Trace()
        reservation = self._reserve(request, trace)
        try:
            hit = await self._athread(self._cache_blocks(), self._lookup, request, trace)
            served = self._serve(request, hit, codec, trace) if hit is not None else None
            if served is not None:
                for chunk in self._replayed(served, request, codec, trace):
                    yield chunk
                return
            flight = await self._afollow(request, trace)
            if isinstance(flight, _Done):
                shared = self._serve_shared(request, flight, codec, trace)
                if shared is not None:
                    for chunk in codec.replay(shared):
                        yield chunk
                    return
                flight = None
            sent, order = await self._athread(self._prepares(), self._prepare, request, trace)
            chunks: list[C] = []
            attempts: list[Attempt] = []
            watch = self._watch(sent, codec, trace)
            upstream = self._astream_call(order, sent, start, attempts)
            try:
                async for chunk in upstream if watch is None else watch.asynchronous(upstream):
                    chunks.append(chunk)
                    yield chunk
            except BaseException:
                self._cut(sent, order, attempts, chunks, codec, reservation, trace)
                _abandon(flight)
                raise
            _stopped(watch, order, attempts, trace)
            tail = await self._athread(
                self._cache_blocks(),
                _listed,
                functools.partial(self._finish_stream, watch=watch),
                sent,
                attempts,
                chunks,
                codec,
                reservation,
                trace,
                flight,
            )
            for chunk in tail:
                yield chunk
        finally:
            self._release(reservation)

    # -- stage: budget --------------------------------------------------------------------

    def _reserve(self, request: Request, trace: Trace) -> Reservation | None:
        if self.budget is None:
            return None
        usd = self._upper_bound(request, trace)
        # the request's labels pick the limits (per user, feature, model, tag) it counts in
        reservation = self.budget.reserve(usd, labels=request.labels)  # errors reach the caller
        trace.add("budget", "reserved", f"${usd:.6f}")
        return reservation

    def _upper_bound(self, request: Request, trace: Trace) -> float:
        """The most this call can cost: its prompt and its answer cap (or the expected
        answer) at the most expensive model it may go to."""
        output = request.max_tokens or self.expected_output_tokens
        if self.router is not None:
            specs = [m for m in self.router.models if self.models is None or m.name in self.models]
            tokens = self._bound_tokens(request, self.router.counter, trace)
            return max(m.cost_usd(tokens, output) for m in specs)
        price = self.prices.get(request.model)
        if price is None:
            raise ConfigError(
                f"a spend budget needs the price of model {request.model!r}, which the price "
                "table does not know; pass prices=PriceTable.default().with_prices({name: "
                "{'input': usd_per_1m, 'output': usd_per_1m}})."
            )
        tokens = self._bound_tokens(request, self._counter(request.model), trace)
        return price.cost(TokenUsage(tokens, output)).total_usd

    def _bound_tokens(self, request: Request, counter: TokenCounter, trace: Trace) -> int:
        """The prompt's tokens; if counting fails, its characters (never fewer)."""
        tokens = self._guarded("budget", trace, lambda: self._count(request, counter))
        if tokens is not None:
            return tokens
        if request.prompt is not None:
            return len(request.prompt)
        return len(json.dumps([request.messages, request.tools], default=str))

    def _release(self, reservation: Reservation | _Refused | None) -> None:
        if isinstance(reservation, _Refused) or reservation is None or self.budget is None:
            return
        self.budget.release(reservation)  # a no-op once settled

    # -- stage: cache and single-flight ---------------------------------------------------

    def _where(self, request: Request) -> dict[str, Any]:
        return {"llm": request.llm, "scope": request.scope, "tools": request.tools}

    @staticmethod
    def _cache_key(cache: SemanticCache, request: Request, trace: Trace) -> CacheKey:
        """The call's cache key, computed once: the lookup, the single-flight key, the
        new leader's re-check and the store share it (normalizing and hashing the
        prompt four times cost ~12% of a gateway miss's CPU)."""
        if trace.cache_key is None:
            trace.cache_key = cache.key(
                request.cache_prompt, llm=request.llm, scope=request.scope, tools=request.tools
            )
        return trace.cache_key

    def _lookup(self, request: Request, trace: Trace) -> CacheHit | None:
        cache = self.cache
        if cache is None:
            return None
        hit = self._guarded(
            "cache",
            trace,
            lambda: cache.lookup(
                request.cache_prompt,
                **self._where(request),
                key=self._cache_key(cache, request, trace),
            ),
        )
        if hit is None and trace.outcome("cache") != "skipped":
            trace.add("cache", "miss")
        return hit

    def _serve(self, request: Request, hit: CacheHit, codec: Codec[R, C], trace: Trace) -> R | None:
        technique = "exact_cache" if hit.kind == "exact" else "semantic_cache"
        try:
            result = codec.rebuild(hit.payload, technique)
        except Exception as exc:  # an entry that cannot be rebuilt is a miss, and goes
            self._failed("cache", exc, trace, outcome="miss")
            if self.cache is not None:
                self._guarded("cache", trace, lambda: self.cache.discard(hit))  # type: ignore[union-attr]
            return None
        usage = hit.usage
        price = self.prices.get(hit.model)
        trace.add(
            "cache",
            "hit",
            f"{hit.kind} from {hit.tier}" + (f", hit {hit.hit_id}" if hit.hit_id else ""),
            saved_tokens=usage.input_tokens + usage.output_tokens,
            saved_usd=price.cost(usage).total_usd if price else hit.cost_saved_usd or 0.0,
        )
        if self.recorder is not None:
            recorder = self.recorder
            tags = {**request.tags, **({"scope": request.scope} if request.scope else {})}
            self._guarded(
                "settle",
                trace,
                lambda: recorder.record_call(
                    model=hit.model,
                    usage=usage,
                    cache_hit=technique,
                    tags=tags or None,
                    details=_details(request, trace, request.model),
                ),
            )
        return codec.annotate(result, trace)

    def _flight_key(self, request: Request, trace: Trace) -> Hashable | None:
        cache = self.cache
        if cache is None:
            return None

        def key() -> Hashable:
            k = self._cache_key(cache, request, trace)
            return (k.partition, k.exact)

        return self._guarded("cache", trace, key)

    def _follow(self, request: Request, trace: Trace) -> Flight | _Done | None:
        """The flight this caller leads (None: no single-flight), or what an identical
        call finished with while this caller waited."""
        key = self._flight_key(request, trace)
        if key is None or self.cache is None:
            return None
        flight, leader = self.cache.flight.join(key)
        if leader:
            return self._lead(request, flight, trace)
        if not flight.wait(self._wait_s()):
            return flight  # the leader failed: the call passed to this caller
        return _Done(flight.result)

    async def _afollow(self, request: Request, trace: Trace) -> Flight | _Done | None:
        key = self._flight_key(request, trace)
        if key is None or self.cache is None:
            return None
        flight, leader = self.cache.flight.join(key)
        if leader:
            done: Flight | _Done = await self._athread(
                self._cache_blocks(), self._lead, request, flight, trace
            )
            return done
        if not await flight.await_(self._wait_s()):
            return flight
        return _Done(flight.result)

    def _lead(self, request: Request, flight: Flight, trace: Trace) -> Flight | _Done:
        """A new leader first re-checks the exact entry: an identical call may have
        stored its answer between this caller's lookup and its joining the flight."""
        cache = self.cache
        assert cache is not None
        hit = self._guarded(
            "cache",
            trace,
            lambda: cache.peek(
                request.cache_prompt,
                **self._where(request),
                key=self._cache_key(cache, request, trace),
            ),
        )
        if hit is None:
            return flight
        answer = Answer(
            payload=hit.payload, text=hit.matched_query or "", model=hit.model, usage=hit.usage
        )
        flight.resolve(answer)
        return _Done(answer, hit)

    def _wait_s(self) -> float | None:
        return self.cache.flight.wait_s if self.cache is not None else None

    def _serve_shared(
        self, request: Request, done: _Done, codec: Codec[R, C], trace: Trace
    ) -> R | None:
        if done.hit is not None:
            return self._serve(request, done.hit, codec, trace)
        answer = done.answer
        if not isinstance(answer, Answer):
            return None
        try:
            result = codec.rebuild(answer.payload, "single_flight")
        except Exception as exc:
            self._failed("cache", exc, trace, outcome="miss")
            return None
        assert self.cache is not None
        self.cache.flight._count_shared()
        usage = answer.usage or TokenUsage()
        trace.add(
            "cache",
            "shared",
            "answered by an identical call in flight",
            saved_tokens=usage.input_tokens + usage.output_tokens,
        )
        return codec.annotate(result, trace)

    # -- stages: context, routing, response length ----------------------------------------

    def _prepares(self) -> bool:
        """Whether preparing does blocking work (worth a worker thread in async)."""
        return self.context is not None or self.router is not None or self.output is not None

    def _prepare(self, request: Request, trace: Trace) -> tuple[Sent, list[str | None]]:
        sent = Sent(
            request,
            request.messages,
            tuple(range(len(request.messages))),
            max_tokens=request.max_tokens,
            prompt=request.prompt,
            trace=trace,  # the provider callable may add its own records (the gateway's)
        )
        context = self.context
        if context is not None:
            # a completion prompt is one user message to the stage (compressed if long)
            messages = request.messages or ({"role": "user", "content": request.prompt},)
            prepared = self._guarded(
                "context",
                trace,
                lambda: context.prepare(messages, tools=request.tools, session=request.session),
            )
            if prepared is not None and prepared.messages != messages:
                if request.prompt is not None:
                    sent = replace(sent, prompt=str(prepared.messages[-1].get("content", "")))
                else:
                    sent = replace(sent, messages=prepared.messages, origins=prepared.origins)
                trace.add("context", "applied", prepared.detail, saved_tokens=prepared.saved_tokens)
            elif prepared is not None:
                trace.add("context", "unchanged")
        order: list[str | None] = [None]
        if self.router is not None:
            order = self._guarded("route", trace, lambda: self._route(sent, trace)) or [
                self._best_model()
            ]
        output = self.output
        if output is not None:
            planned = self._guarded("output", trace, lambda: output.plan(sent))
            if planned is not None and planned != sent.max_tokens:
                trace.add("output", "planned", f"max_tokens {sent.max_tokens} -> {planned}")
                out_stage.note(trace, planned=planned)
                sent = replace(sent, max_tokens=planned)
        return sent, order

    def _route(self, sent: Sent, trace: Trace) -> list[str | None]:
        router = self.router
        assert router is not None
        request = sent.request
        if sent.prompt is not None:
            text, tokens = sent.prompt, router.counter.count(sent.prompt)
        else:
            current = last_user_message(sent.messages) or sent.messages[-1]
            text = message_text(current)
            tokens = router.counter.count_messages(sent.messages, tools=request.tools)
        # the tightest limit covering this request, as last seen (no round trip)
        status = self.budget.status(request.labels) if self.budget is not None else None
        budget = status if status is not None and status.state == "low" else None
        decision = router.route_or_best(
            text, input_tokens=tokens, require=request.require, budget=budget, among=self.models
        )
        trace.route = {
            "model": decision.model,
            "reason": decision.reason,
            "success": dict(decision.success),
            "attempts": [],
        }
        trace.add("route", "routed", f"{decision.model}: {decision.reason}")
        order: list[str | None] = [decision.model]
        if self.fallback:
            order += [
                m.name
                for m in router.models
                if m.name != decision.model and (self.models is None or m.name in self.models)
            ]
        return order

    def _best_model(self) -> str:
        assert self.router is not None
        specs = [m for m in self.router.models if self.models is None or m.name in self.models]
        return max(specs, key=lambda m: m.quality).name

    # -- stage: the provider call, with fallback ------------------------------------------

    def _chain(self, order: list[str | None]) -> FallbackChain:
        return FallbackChain([str(n) for n in order], timeout_s=self.timeout_s)

    def _invoke(
        self, order: list[str | None], sent: Sent, call: Callable[[Sent], R], trace: Trace
    ) -> tuple[R, str | None]:
        if len(order) == 1 and self.timeout_s is None:  # the provider's own error, unwrapped
            result = call(replace(sent, model=order[0]))
            self._attempts(trace, [Attempt(order[0] or "", "ok")])
            return result, order[0]
        done = self._chain(order).run(lambda name: call(replace(sent, model=name)))
        self._attempts(trace, done.attempts)
        return done.answer, done.model

    async def _ainvoke(
        self,
        order: list[str | None],
        sent: Sent,
        call: Callable[[Sent], Awaitable[R]],
        trace: Trace,
    ) -> tuple[R, str | None]:
        if len(order) == 1 and self.timeout_s is None:
            result = await call(replace(sent, model=order[0]))
            self._attempts(trace, [Attempt(order[0] or "", "ok")])
            return result, order[0]
        done = await self._chain(order).arun(lambda name: call(replace(sent, model=name)))
        self._attempts(trace, done.attempts)
        return done.answer, done.model

    def _stream_call(
        self,
        order: list[str | None],
        sent: Sent,
        start: Callable[[Sent], Iterator[C]],
        attempts: list[Attempt],
    ) -> Iterator[C]:
        if len(order) == 1:
            yield from start(replace(sent, model=order[0]))
            attempts.append(Attempt(order[0] or "", "ok"))
            return
        yield from stream_first(
            [str(n) for n in order], lambda name: start(replace(sent, model=name)), attempts
        )

    async def _astream_call(
        self,
        order: list[str | None],
        sent: Sent,
        start: Callable[[Sent], AsyncIterator[C]],
        attempts: list[Attempt],
    ) -> AsyncIterator[C]:
        if len(order) == 1:
            stream = start(replace(sent, model=order[0]))
            try:
                async for chunk in stream:
                    yield chunk
            finally:  # closed early (a stop): the provider's stream closes now, not at GC
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            attempts.append(Attempt(order[0] or "", "ok"))
            return
        async for chunk in astream_first(
            [str(n) for n in order], lambda name: start(replace(sent, model=name)), attempts
        ):
            yield chunk

    @staticmethod
    def _attempts(trace: Trace, attempts: Sequence[Attempt]) -> None:
        if trace.route is not None:
            trace.route["model"] = attempts[-1].model if attempts else trace.route["model"]
            trace.route["attempts"] = [
                {"model": a.model, "outcome": a.outcome, "detail": a.detail} for a in attempts
            ]
        failed = [a for a in attempts if a.outcome != "ok"]
        if failed:
            trace.add("call", "fallback", "; ".join(f"{a.model}: {a.outcome}" for a in failed))

    # -- stage: settle --------------------------------------------------------------------

    def _produce(
        self,
        request: Request,
        call: Callable[[Sent], R],
        codec: Codec[R, C],
        trace: Trace,
        reservation: Reservation | None,
    ) -> tuple[R, Answer | None]:
        sent, order = self._prepare(request, trace)
        result, model = self._invoke(order, sent, call, trace)
        result = self._continue(sent, model, result, call, codec, trace)
        answer = self._settle(sent, model, result, codec, reservation, trace)
        return codec.annotate(result, trace), answer

    def _settle(
        self,
        sent: Sent,
        model: str | None,
        result: R,
        codec: Codec[R, C],
        reservation: Reservation | None,
        trace: Trace,
        *,
        store: bool = True,
    ) -> Answer | None:
        """Charge the actual cost, store the answer, record the call; never raises."""
        needed = self.cache is not None or reservation is not None or self.record_calls
        answer = (
            self._guarded("settle", trace, lambda: codec.answer(result, sent)) if needed else None
        )
        if reservation is not None and self.budget is not None:
            cost = self._guarded("settle", trace, lambda: self._cost(sent, model, answer))
            actual = reservation.usd if cost is None else cost
            self.budget.settle(reservation, actual)
            trace.add("budget", "charged", f"${actual:.6f}")
        cache = self.cache
        if store and cache is not None and answer is not None:
            stored = self._guarded(
                "settle",
                trace,
                lambda: cache.store(
                    sent.request.cache_prompt,
                    answer,
                    **self._where(sent.request),
                    key=self._cache_key(cache, sent.request, trace),
                ),
            )
            if stored is not None:
                trace.add(
                    "settle", "stored" if stored.stored else "not stored", stored.reason or ""
                )
        if self.record_calls and self.recorder is not None and answer is not None:
            recorder = self.recorder
            self._guarded(
                "settle",
                trace,
                lambda: recorder.record_call(
                    model=answer.model or self._model_id(sent, model),
                    usage=answer.usage,
                    prompt=sent.messages or sent.request.prompt,
                    output_text=answer.text,
                    tags=dict(sent.request.tags) or None,
                    details=_details(sent.request, trace, sent.model, sent, answer.text),
                ),
            )
        return answer

    def _finish_stream(
        self,
        sent: Sent,
        attempts: list[Attempt],
        chunks: list[C],
        codec: Codec[R, C],
        reservation: Reservation | None,
        trace: Trace,
        flight: Flight | None,
        *,
        watch: out_stage.Watch | None = None,
    ) -> Iterator[C]:
        self._attempts(trace, attempts)
        model = attempts[-1].model if attempts else None
        answer = None
        stopped = watch is not None and watch.stopped
        if chunks:
            result = self._guarded("settle", trace, lambda: codec.merge(chunks))
            if result is not None:
                # a stream the monitor stopped is charged for all it generated, not stored
                answer = self._settle(
                    sent, model or None, result, codec, reservation, trace, store=not stopped
                )
                if stopped and watch is not None:
                    kept = watch.monitor.result().kept
                    self._guarded("output", trace, lambda: _with_text(codec, result, kept))
        _resolve(flight, None if stopped else answer)
        last = self._guarded("settle", trace, lambda: codec.last_chunk(trace))
        if last is not None:
            yield last

    def _cut(
        self,
        sent: Sent,
        order: list[str | None],
        attempts: list[Attempt],
        chunks: list[C],
        codec: Codec[R, C],
        reservation: Reservation | None,
        trace: Trace,
    ) -> None:
        """A stream stopped by the caller or broken mid-way: charge what was generated."""
        if not chunks or reservation is None:
            return
        model = attempts[-1].model if attempts else order[0]
        result = self._guarded("settle", trace, lambda: codec.merge(chunks))
        if result is not None:
            self._settle(sent, model, result, codec, reservation, trace, store=False)

    # -- stage: output (stream monitor, continuation) -------------------------------------

    def _watch(self, sent: Sent, codec: Codec[R, C], trace: Trace) -> out_stage.Watch | None:
        """A monitor for this stream, when the output stage has one."""
        control = self.output
        if not isinstance(control, OutputControl):
            return None
        count = self._counter(self._model_id(sent, sent.model)).count
        return self._guarded(
            "output", trace, lambda: out_stage.watch_for(control, codec, sent.max_tokens, count)
        )

    def _replayed(
        self, served: R, request: Request, codec: Codec[R, C], trace: Trace
    ) -> Iterable[C]:
        """A cached answer as a stream, through the same monitor as a live one."""
        control = self.output
        if not isinstance(control, OutputControl) or not control.monitor_replays:
            return codec.replay(served)
        sent = Sent(request, request.messages, (), max_tokens=None, prompt=request.prompt)
        watch = self._watch(sent, codec, trace)
        if watch is None:
            return codec.replay(served)
        for chunk in codec.replay(served):
            if watch.monitor.feed(watch.text_of(chunk)) is not None:
                break
        if not watch.stopped:
            return codec.replay(served)
        watch.report(trace)
        kept = watch.monitor.result().kept
        trimmed = self._guarded("output", trace, lambda: _with_text(codec, served, kept))
        return codec.replay(codec.annotate(trimmed if trimmed is not None else served, trace))

    def _continue(
        self,
        sent: Sent,
        model: str | None,
        result: R,
        call: Callable[[Sent], R],
        codec: Codec[R, C],
        trace: Trace,
    ) -> R:
        """An answer cut by its cap, continued (or cut back and flagged). Each
        continuation call reserves its upper-bound cost through the budget first, like
        the first call, and settles to its actual cost; a refused reservation ends the
        continuing (the answer is returned flagged truncated)."""
        parts = self._cut_answer(sent, model, result, codec, trace)
        if parts is None:
            return result
        while parts.more():
            ask = parts.ask()
            held = self._hold_part(ask, model, trace)
            if held is _REFUSED:
                break
            try:
                more = call(ask)
            except Exception as exc:  # a failed continuation: keep what there is
                self._release(held)
                self._failed("output", exc, trace)
                break
            self._settle_part(held, parts.add(more))
        return parts.finish(result)

    async def _acontinue(
        self,
        sent: Sent,
        model: str | None,
        result: R,
        call: Callable[[Sent], Awaitable[R]],
        codec: Codec[R, C],
        trace: Trace,
    ) -> R:
        """:meth:`_continue` for a coroutine provider."""
        parts = self._cut_answer(sent, model, result, codec, trace)
        if parts is None:
            return result
        while parts.more():
            ask = parts.ask()
            held = self._hold_part(ask, model, trace)
            if held is _REFUSED:
                break
            try:
                more = await call(ask)
            except Exception as exc:
                self._release(held)
                self._failed("output", exc, trace)
                break
            self._settle_part(held, parts.add(more))
        return parts.finish(result)

    def _hold_part(
        self, ask: Sent, model: str | None, trace: Trace
    ) -> Reservation | _Refused | None:
        """Reserve a continuation call's upper bound (its prompt, which holds the answer
        so far, and its cap at the model that answered); ``_REFUSED`` when the budget
        refuses it, None without a budget."""
        budget = self.budget
        if budget is None:
            return None
        usd = self._guarded("budget", trace, lambda: self._part_bound(ask, model))
        if usd is None:  # cannot be priced: the first call's bound stands in
            usd = self._upper_bound(ask.request, trace)
        try:
            held = budget.reserve(usd, labels=ask.request.labels)
        except BudgetExceededError as exc:
            trace.add("output", "not continued", f"the budget refused it: {exc}"[:200])
            return _REFUSED
        trace.add("budget", "reserved", f"${usd:.6f} (continuation)")
        return held

    def _part_bound(self, ask: Sent, model: str | None) -> float:
        request = ask.request
        output = ask.max_tokens or request.max_tokens or self.expected_output_tokens
        counter = self._counter(self._model_id(ask, model))
        if ask.prompt is not None:
            tokens = counter.count(ask.prompt)
        else:
            tokens = counter.count_messages(ask.messages, tools=request.tools)
        return self._price(ask, model, TokenUsage(tokens, output), None)

    def _settle_part(self, held: Reservation | _Refused | None, usd: float | None) -> None:
        """Charge a continuation call its cost (its reservation when it cannot be
        priced)."""
        if held is not None and not isinstance(held, _Refused) and self.budget is not None:
            actual = held.usd if usd is None else usd
            self.budget.settle(held, actual)

    def _cut_answer(
        self, sent: Sent, model: str | None, result: R, codec: Codec[R, C], trace: Trace
    ) -> out_stage.Parts[R] | None:
        """The parts of an answer the provider cut at its cap, or None (not cut, or no
        output control, or a codec that cannot replace a result's text)."""
        control = self.output
        if not isinstance(control, OutputControl) or not hasattr(codec, "with_text"):
            return None
        first = self._guarded("output", trace, lambda: codec.answer(result, sent))
        if first is None or first.finish_reason != "length":
            return None
        counter = self._counter(self._model_id(sent, model))
        cost = None if self.budget is None else self._cost
        return out_stage.Parts(
            control, sent, model, codec, trace, first.text, counter.count, self._guarded, cost
        )

    def _cost(self, sent: Sent, model: str | None, answer: Answer | None) -> float:
        request = sent.request
        if answer is not None and answer.usage is not None:
            usage = answer.usage
        else:
            counter = self._counter(self._model_id(sent, model))
            tokens = self._count(request, counter, sent.messages)
            usage = TokenUsage(tokens, counter.count(answer.text) if answer is not None else 0)
        return self._price(sent, model, usage, answer)

    def _price(
        self, sent: Sent, model: str | None, usage: TokenUsage, answer: Answer | None
    ) -> float:
        if self.router is not None and model is not None and model in self.router.models.names:
            return self.router.models[model].cost_usd(usage.input_tokens, usage.output_tokens)
        price = self.prices.get(self._model_id(sent, model)) or self.prices.get(
            answer.model if answer is not None else None
        )
        if price is None:
            raise ConfigError(f"no price for model {self._model_id(sent, model)!r}")
        return price.cost(usage).total_usd

    @staticmethod
    def _model_id(sent: Sent, model: str | None) -> str | None:
        return model or sent.request.model

    # -- helpers --------------------------------------------------------------------------

    def _counter(self, model: str | None) -> TokenCounter:
        name = model or DEFAULT_MODEL
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters.setdefault(name, TokenCounter(name))
        return counter

    @staticmethod
    def _count(
        request: Request, counter: TokenCounter, messages: Sequence[Any] | None = None
    ) -> int:
        if request.prompt is not None:
            return counter.count(request.prompt)
        return counter.count_messages(messages or request.messages, tools=request.tools)

    def _guarded(self, stage: str, trace: Trace, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None with the stage skipped, logged once and counted; the time
        it took is added to the stage's (``Trace.stage_ms``)."""
        start = time.perf_counter()
        try:
            return fn()
        except BudgetExceededError:
            raise
        except Exception as exc:  # the never-fail boundary of every optimization stage
            self._failed(stage, exc, trace)
            return None
        finally:
            trace.timed(stage, time.perf_counter() - start)

    def _failed(
        self, stage: str, exc: BaseException, trace: Trace, outcome: str = "skipped"
    ) -> None:
        key = (stage, type(exc).__name__)
        with self._lock:
            self.failures[stage] += 1
            first = key not in self._logged
            self._logged.add(key)
        if first:
            log.warning(
                "tokenomy: the %s stage failed (%s: %s) and was skipped; the call goes on "
                "(logged once per stage and error type; see Pipeline.failures).",
                stage,
                type(exc).__name__,
                exc,
            )
        trace.add(stage, outcome, f"{type(exc).__name__}: {exc}"[:200])

    def _cache_blocks(self) -> bool:
        """Whether the cache stages may block (I/O tiers, embeddings): then they run in
        a worker thread; an exact in-memory cache runs on the loop (no thread hop,
        which costs milliseconds on a busy event loop)."""
        return self.cache is not None and self.cache.blocking

    @staticmethod
    async def _athread(blocking: bool, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread when it blocks, inline when it does not."""
        if blocking:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)


def _with_text(codec: Any, result: Any, text: str, finish_reason: str | None = "stop") -> Any:
    return codec.with_text(result, text, finish_reason)


def _stopped(
    watch: out_stage.Watch | None, order: list[str | None], attempts: list[Attempt], trace: Trace
) -> None:
    """After a monitored stream: report, and name the model a stopped stream came from
    (a stream closed early never reached its own ``ok`` attempt)."""
    if watch is None:
        return
    watch.report(trace)
    if watch.stopped and not any(a.outcome == "ok" for a in attempts):
        attempts.append(Attempt(order[min(len(attempts), len(order) - 1)] or "", "ok"))


class _Refused:
    """A continuation the budget refused (the loop stops; nothing to settle)."""


_REFUSED: Final = _Refused()


@dataclass(frozen=True)
class _Done:
    """What an identical call finished with: its answer (to share), or the stored
    entry a new leader found on its re-check (served as a hit)."""

    answer: Any
    hit: CacheHit | None = None


def _listed(fn: Callable[..., Iterable[Any]], *args: Any) -> list[Any]:
    return list(fn(*args))


def _resolve(flight: Flight | None, answer: Answer | None) -> None:
    if flight is not None:
        flight.resolve(answer)


def _abandon(flight: Flight | None) -> None:
    if flight is not None:
        flight.abandon()


def _details(
    request: Request,
    trace: Trace,
    model: str | None,
    sent: Sent | None = None,
    completion: str | None = None,
) -> dict[str, Any]:
    """What a recorder's observers (telemetry) read beyond the record: the request's
    shape, the per-stage trace (with stage times) and the routing decision; the text
    only for observers that opt in to exporting it."""
    return {
        "operation": "chat" if request.messages else "text_completion",
        "request_model": model or request.model,
        "max_tokens": sent.max_tokens if sent is not None else request.max_tokens,
        "trace": trace.as_dict(),
        "route": dict(trace.route) if trace.route is not None else None,
        "prompt": (sent.messages or sent.prompt) if sent is not None else request.cache_prompt,
        "completion": completion,
    }
