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

import functools
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from tokenomy.cache import Answer, SemanticCache
from tokenomy.errors import ConfigError
from tokenomy.pipeline import output as out_stage
from tokenomy.pipeline.caching import CacheStage, Done, abandon, resolve
from tokenomy.pipeline.calling import (
    CallStage,
    Finished,
    aclose_stream,
    astreamed,
    note_attempts,
    streamed,
)
from tokenomy.pipeline.context import ContextStage
from tokenomy.pipeline.guard import Guard, in_thread
from tokenomy.pipeline.request import Request, Sent, Trace, call_details
from tokenomy.pipeline.spend import SpendStage, model_id
from tokenomy.route import Router
from tokenomy.route.cascade import Attempt
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

if TYPE_CHECKING:
    from tokenomy.budget import Budget, Reservation
    from tokenomy.cache.singleflight import Flight

__all__ = ["DEFAULT_EXPECTED_OUTPUT_TOKENS", "Codec", "OutputPlanner", "Pipeline", "Recorder"]

R = TypeVar("R")
C = TypeVar("C")

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
        price_factor: float = ...,
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
        self.context = context if context is not None and context.active else None
        names = list(models) if models is not None else None
        self.calls = CallStage(router, names, fallback, timeout_s)
        self.record_calls = record_calls
        self.expected_output_tokens = expected_output_tokens
        self.guard = Guard()
        self.failures = self.guard.failures
        """Stage failures by stage name (each one skipped the stage for that call)."""
        self.spend = SpendStage(
            budget=budget,
            prices=prices or PriceTable.default(),
            router=router,
            models=names,
            expected_output_tokens=expected_output_tokens,
            guard=self.guard,
        )
        self.caching: CacheStage | None = None
        self.outputs = out_stage.OutputStage(output, self.spend, self.guard)
        self._output = output
        self._recorder = recorder
        self.cache = cache

    # -- what the stages hold (set here, every stage sees it) --------------------------------

    @property
    def router(self) -> Router | None:
        return self.calls.router

    @property
    def models(self) -> list[str] | None:
        """The names the front door can call (None: the router's whole table)."""
        return None if self.calls.models is None else list(self.calls.models)

    @property
    def fallback(self) -> bool:
        return self.calls.fallback

    def check_priced(self, model: str | None) -> None:
        """A front door with a budget and no router calls ``model`` only: fail now if
        the budget cannot price it, not at the first call (a router's models are
        priced by its table).

        Raises:
            ConfigError: a budget is set and ``model`` has no price (or no name).
        """
        if self.budget is not None and self.router is None:
            self.spend.price_of(model)

    @property
    def timeout_s(self) -> float | None:
        return self.calls.timeout_s

    @property
    def output(self) -> OutputPlanner | None:
        return self._output

    @output.setter
    def output(self, output: OutputPlanner | None) -> None:
        self._output = output
        self.outputs = out_stage.OutputStage(output, self.spend, self.guard)

    @property
    def budget(self) -> Budget | None:
        return self.spend.budget

    @budget.setter
    def budget(self, budget: Budget | None) -> None:
        self.spend.budget = budget

    @property
    def prices(self) -> PriceTable:
        return self.spend.prices

    @prices.setter
    def prices(self, prices: PriceTable) -> None:
        self.spend.prices = prices
        if self.caching is not None:
            self.caching.prices = prices

    @property
    def recorder(self) -> Recorder | None:
        return self._recorder

    @recorder.setter
    def recorder(self, recorder: Recorder | None) -> None:
        self._recorder = recorder
        if self.caching is not None:
            self.caching.recorder = recorder

    @property
    def cache(self) -> SemanticCache | None:
        return self.caching.cache if self.caching is not None else None

    @cache.setter
    def cache(self, cache: SemanticCache | None) -> None:
        self.caching = (
            CacheStage(cache, self.prices, self.recorder, self.guard) if cache is not None else None
        )

    # -- the four call paths --------------------------------------------------------------

    def run(self, request: Request, call: Callable[[Sent], R], codec: Codec[R, C]) -> R:
        """One call: ``call(sent)`` is the provider (it sees ``sent.model`` when routed)."""
        trace = Trace()
        reservation = self.spend.reserve(request, trace)
        try:
            served = self._from_cache(request, codec, trace)
            if served is not None:
                return served
            flight = self._follow(request, trace)
            if isinstance(flight, Done):
                shared = self._shared(request, flight, codec, trace)
                if shared is not None:
                    return shared
                flight = None  # its answer cannot be used here: call without single-flight
            try:
                result, answer = self._produce(request, call, codec, trace, reservation)
            except BaseException:
                abandon(flight)
                raise
            resolve(flight, answer)
            return result
        finally:
            self.spend.release(reservation)

    async def arun(
        self, request: Request, call: Callable[[Sent], Awaitable[R]], codec: Codec[R, C]
    ) -> R:
        """:meth:`run` for a coroutine provider; blocking stages run in a worker thread."""
        trace = Trace()
        reservation = self.spend.reserve(request, trace)
        try:
            served = await self._afrom_cache(request, codec, trace)
            if served is not None:
                return served
            flight = await self._afollow(request, trace)
            if isinstance(flight, Done):
                shared = self._shared(request, flight, codec, trace)
                if shared is not None:
                    return shared
                flight = None
            try:
                sent, order = await in_thread(self._prepares(), self._prepare, request, trace)
                result, model = await self.calls.ainvoke(order, sent, call, trace)
                try:
                    result = await self.outputs.acontinued(sent, model, result, call, codec, trace)
                except BaseException:  # cancelled mid-continuation: the first part is paid
                    self._settle(sent, model, result, codec, reservation, trace, store=False)
                    raise
                answer = await in_thread(
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
                abandon(flight)
                raise
            resolve(flight, answer)
            return codec.annotate(result, trace)
        finally:
            self.spend.release(reservation)

    def stream(
        self,
        request: Request,
        start: Callable[[Sent], Iterator[C] | Finished[R]],
        codec: Codec[R, C],
    ) -> Iterator[C]:
        """A streamed call: a hit replays as a stream; a finished stream is stored; a
        stream the caller stops is charged for what was generated and not stored.
        ``start`` answers :class:`~tokenomy.pipeline.Finished` for a model that cannot
        stream: its answer is replayed as chunks."""
        trace = Trace()
        reservation = self.spend.reserve(request, trace)
        try:
            served = self._from_cache(request, codec, trace)
            if served is not None:
                yield from self.outputs.replayed(served, request, codec, trace)
                return
            flight = self._follow(request, trace)
            if isinstance(flight, Done):
                shared = self._shared(request, flight, codec, trace)
                if shared is not None:
                    yield from codec.replay(shared)
                    return
                flight = None
            sent, order = self._prepare(request, trace)
            chunks: list[C] = []
            attempts: list[Attempt] = []
            watch = self.outputs.watch(sent, codec, trace)
            whole: list[R] = []  # a model that cannot stream: its answer, replayed
            upstream = self.calls.stream(
                order, sent, streamed(start, codec.replay, whole), attempts
            )
            try:
                for chunk in upstream if watch is None else watch.sync(upstream):
                    chunks.append(chunk)
                    yield chunk
            except BaseException:
                self._cut(sent, order, attempts, chunks, codec, reservation, trace, whole)
                abandon(flight)
                raise
            _stopped(watch, order, attempts, trace)
            yield from self._finish_stream(
                sent, attempts, chunks, codec, reservation, trace, flight, watch=watch, whole=whole
            )
        finally:
            self.spend.release(reservation)

    async def astream(
        self,
        request: Request,
        start: Callable[[Sent], AsyncIterator[C] | Awaitable[AsyncIterator[C] | Finished[R]]],
        codec: Codec[R, C],
    ) -> AsyncIterator[C]:
        """:meth:`stream` for an async provider stream; ``start`` may also be a coroutine
        that opens the stream (LlamaIndex's ``astream_chat``) or answers
        :class:`~tokenomy.pipeline.Finished`."""
        trace = Trace()
        reservation = self.spend.reserve(request, trace)
        try:
            served = await self._afrom_cache(request, codec, trace)
            if served is not None:
                for chunk in self.outputs.replayed(served, request, codec, trace):
                    yield chunk
                return
            flight = await self._afollow(request, trace)
            if isinstance(flight, Done):
                shared = self._shared(request, flight, codec, trace)
                if shared is not None:
                    for chunk in codec.replay(shared):
                        yield chunk
                    return
                flight = None
            sent, order = await in_thread(self._prepares(), self._prepare, request, trace)
            chunks: list[C] = []
            attempts: list[Attempt] = []
            watch = self.outputs.watch(sent, codec, trace)
            whole: list[R] = []  # a model that cannot stream: its answer, replayed
            upstream = self.calls.astream(
                order, sent, astreamed(start, codec.replay, whole), attempts
            )
            watched = upstream if watch is None else watch.asynchronous(upstream)
            try:
                async for chunk in watched:
                    chunks.append(chunk)
                    yield chunk
            except BaseException:
                self._cut(sent, order, attempts, chunks, codec, reservation, trace, whole)
                abandon(flight)
                raise
            finally:  # a stream stopped early is closed now, not when it is collected
                await aclose_stream(watched)
                await aclose_stream(upstream)
            _stopped(watch, order, attempts, trace)
            tail = await in_thread(
                self._cache_blocks(),
                _listed,
                functools.partial(self._finish_stream, watch=watch, whole=whole),
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
            self.spend.release(reservation)

    # -- stage: cache and single-flight (tokenomy.pipeline.caching) ----------------------

    def _from_cache(self, request: Request, codec: Codec[R, C], trace: Trace) -> R | None:
        caching = self.caching
        if caching is None:
            return None
        hit = caching.lookup(request, trace)
        return caching.serve(request, hit, codec, trace) if hit is not None else None

    async def _afrom_cache(self, request: Request, codec: Codec[R, C], trace: Trace) -> R | None:
        caching = self.caching
        if caching is None:
            return None
        hit = await in_thread(caching.blocking, caching.lookup, request, trace)
        return caching.serve(request, hit, codec, trace) if hit is not None else None

    def _follow(self, request: Request, trace: Trace) -> Flight | Done | None:
        return self.caching.follow(request, trace) if self.caching is not None else None

    async def _afollow(self, request: Request, trace: Trace) -> Flight | Done | None:
        return await self.caching.afollow(request, trace) if self.caching is not None else None

    def _shared(self, request: Request, done: Done, codec: Codec[R, C], trace: Trace) -> R | None:
        assert self.caching is not None  # only a cache makes flights
        return self.caching.serve_shared(request, done, codec, trace)

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
            prepared = self.guard(
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
            calls = self.calls
            order = self.guard("route", trace, lambda: calls.route(sent, trace, self.budget)) or [
                calls.best()
            ]
        output = self.output
        if output is not None:
            planned = self.guard("output", trace, lambda: output.plan(sent))
            if planned is not None and planned != sent.max_tokens:
                trace.add("output", "planned", f"max_tokens {sent.max_tokens} -> {planned}")
                out_stage.note(trace, planned=planned)
                sent = replace(sent, max_tokens=planned)
        return sent, order

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
        result, model = self.calls.invoke(order, sent, call, trace)
        try:
            result = self.outputs.continued(sent, model, result, call, codec, trace)
        except BaseException:  # interrupted mid-continuation: the first part is paid
            self._settle(sent, model, result, codec, reservation, trace, store=False)
            raise
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
        needed = self.caching is not None or reservation is not None or self.record_calls
        answer = self.guard("settle", trace, lambda: codec.answer(result, sent)) if needed else None
        if reservation is not None and self.budget is not None:
            self.spend.charge(reservation, sent, model, answer, trace)
        if store and self.caching is not None and answer is not None:
            self.caching.store(sent, answer, trace)
        if self.record_calls and self.recorder is not None and answer is not None:
            recorder = self.recorder
            self.guard(
                "settle",
                trace,
                lambda: recorder.record_call(
                    model=answer.model or model_id(sent, model),
                    usage=answer.usage,
                    prompt=sent.messages or sent.request.prompt,
                    output_text=answer.text,
                    tags=dict(sent.request.tags) or None,
                    details=call_details(sent.request, trace, sent.model, sent, answer.text),
                    price_factor=answer.price_factor,
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
        whole: list[R] | None = None,
    ) -> Iterator[C]:
        note_attempts(trace, attempts)
        model = attempts[-1].model if attempts else None
        answer = None
        stopped = watch is not None and watch.stopped
        if chunks:
            result = (
                whole[-1]  # a replay the monitor stopped was generated in full
                if stopped and whole
                else self.guard("settle", trace, lambda: codec.merge(chunks))
            )
            if result is not None:
                # a stream the monitor stopped is charged for all it generated, not stored
                answer = self._settle(
                    sent, model or None, result, codec, reservation, trace, store=not stopped
                )
                if stopped and watch is not None:
                    kept = watch.monitor.result().kept
                    self.guard("output", trace, lambda: out_stage.with_text(codec, result, kept))
        resolve(flight, None if stopped else answer)
        last = self.guard("settle", trace, lambda: codec.last_chunk(trace))
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
        whole: list[R],
    ) -> None:
        """A stream stopped by the caller or broken mid-way: charge what was generated
        (all of a replayed answer, which the model generated before the first chunk)."""
        if not (chunks or whole) or reservation is None:
            return
        model = attempts[-1].model if attempts else order[0]
        result = whole[-1] if whole else self.guard("settle", trace, lambda: codec.merge(chunks))
        if result is not None:
            self._settle(sent, model, result, codec, reservation, trace, store=False)

    # -- helpers --------------------------------------------------------------------------

    def _cache_blocks(self) -> bool:
        """Whether the cache stages may block (I/O tiers, embeddings): then they run in
        a worker thread; an exact in-memory cache runs on the loop (no thread hop,
        which costs milliseconds on a busy event loop)."""
        return self.caching is not None and self.caching.blocking


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


def _listed(fn: Callable[..., Iterable[Any]], *args: Any) -> list[Any]:
    return list(fn(*args))
