"""The pipeline's cache stage: lookup, single-flight, serving a hit, storing an answer.

The call's cache key is computed once (:meth:`CacheStage.key`) and shared by the
lookup, the single-flight key, a new leader's re-check and the store. Concurrent
identical misses share one provider call: the first caller leads, the others wait
for its answer (or take the call over when it fails).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tokenomy.cache import Answer, CacheHit, CacheKey, SemanticCache
from tokenomy.pipeline.guard import Guard, in_thread
from tokenomy.pipeline.request import Request, Sent, Trace, call_details
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

if TYPE_CHECKING:
    from tokenomy.cache.singleflight import Flight
    from tokenomy.pipeline.pipeline import Codec, Recorder

__all__ = ["CacheStage", "Done", "abandon", "resolve"]

R = TypeVar("R")


@dataclass(frozen=True)
class Done:
    """What an identical call finished with: its answer (to share), or the stored
    entry a new leader found on its re-check (served as a hit)."""

    answer: Any
    hit: CacheHit | None = None


def resolve(flight: Flight | None, answer: Answer | None) -> None:
    """Hand a led flight's answer (None: nothing to share) to its followers."""
    if flight is not None:
        flight.resolve(answer)


def abandon(flight: Flight | None) -> None:
    """Pass a led flight's call on to a follower (the leader failed)."""
    if flight is not None:
        flight.abandon()


class CacheStage:
    """A :class:`~tokenomy.cache.SemanticCache` as a pipeline stage.

    Args:
        cache: the cache.
        prices: prices a hit's saving.
        recorder: records hits as saved (None: not recorded).
        guard: the pipeline's never-fail boundary.
    """

    def __init__(
        self, cache: SemanticCache, prices: PriceTable, recorder: Recorder | None, guard: Guard
    ) -> None:
        self.cache = cache
        self.prices = prices
        self.recorder = recorder
        self.guard = guard

    @property
    def blocking(self) -> bool:
        """Whether the cache may block (I/O tiers, embeddings): then async paths run it
        in a worker thread; an exact in-memory cache runs on the loop."""
        return self.cache.blocking

    def key(self, request: Request, trace: Trace) -> CacheKey:
        """The call's cache key, computed once: the lookup, the single-flight key, the
        new leader's re-check and the store share it (normalizing and hashing the
        prompt four times cost ~12% of a gateway miss's CPU)."""
        if trace.cache_key is None:
            trace.cache_key = self.cache.key(
                request.cache_prompt, llm=request.llm, scope=request.scope, tools=request.tools
            )
        return trace.cache_key

    def _where(self, request: Request, trace: Trace) -> dict[str, Any]:
        return {
            "llm": request.llm,
            "scope": request.scope,
            "tools": request.tools,
            "key": self.key(request, trace),
        }

    # -- lookup and serving ---------------------------------------------------------------

    def _found(
        self, find: Callable[..., CacheHit | None], request: Request, trace: Trace
    ) -> CacheHit | None:
        """``find`` (the cache's lookup or peek) for the request, saving what it bills."""
        return self.guard(  # keying runs inside the guard too: it may fail on odd input
            "cache",
            trace,
            lambda: find(
                request.cache_prompt,
                **self._where(request, trace),
                price_factor=request.price_factor,
            ),
        )

    def lookup(self, request: Request, trace: Trace) -> CacheHit | None:
        hit = self._found(self.cache.lookup, request, trace)
        if hit is None and trace.outcome("cache") != "skipped":
            trace.add("cache", "miss")
        return hit

    def serve(
        self, request: Request, hit: CacheHit, codec: Codec[R, Any], trace: Trace
    ) -> R | None:
        """A hit as the front door's result (None: it cannot be rebuilt; discarded)."""
        technique = "exact_cache" if hit.kind == "exact" else "semantic_cache"
        try:
            result = codec.rebuild(hit.payload, technique)
        except Exception as exc:  # an entry that cannot be rebuilt is a miss, and goes
            self.guard.failed("cache", exc, trace, outcome="miss")
            self.guard("cache", trace, lambda: self.cache.discard(hit))
            return None
        usage = hit.usage
        price = self.prices.get(hit.model)
        # what this call would have been billed (the hit's own figure is billed already)
        saved = price.cost(usage).total_usd * request.price_factor if price else None
        trace.add(
            "cache",
            "hit",
            f"{hit.kind} from {hit.tier}" + (f", hit {hit.hit_id}" if hit.hit_id else ""),
            saved_tokens=usage.input_tokens + usage.output_tokens,
            saved_usd=saved if saved is not None else hit.cost_saved_usd or 0.0,
        )
        recorder = self.recorder
        if recorder is not None:
            tags = {**request.tags, **({"scope": request.scope} if request.scope else {})}
            self.guard(
                "settle",
                trace,
                lambda: recorder.record_call(
                    model=hit.model,
                    usage=usage,
                    cache_hit=technique,
                    tags=tags or None,
                    details=call_details(request, trace, request.model),
                    price_factor=request.price_factor,
                ),
            )
        return codec.annotate(result, trace)

    # -- single-flight --------------------------------------------------------------------

    def _flight_key(self, request: Request, trace: Trace) -> Hashable | None:
        def key() -> Hashable:
            k = self.key(request, trace)
            return (k.partition, k.exact)

        return self.guard("cache", trace, key)

    def follow(self, request: Request, trace: Trace) -> Flight | Done | None:
        """The flight this caller leads (None: no single-flight), or what an identical
        call finished with while this caller waited."""
        key = self._flight_key(request, trace)
        if key is None:
            return None
        flight, leader = self.cache.flight.join(key)
        if leader:
            return self._lead(request, flight, trace)
        if not flight.wait(self.cache.flight.wait_s):
            return flight  # the leader failed: the call passed to this caller
        return Done(flight.result)

    async def afollow(self, request: Request, trace: Trace) -> Flight | Done | None:
        """:meth:`follow` without blocking the event loop."""
        key = self._flight_key(request, trace)
        if key is None:
            return None
        flight, leader = self.cache.flight.join(key)
        if leader:
            done: Flight | Done = await in_thread(self.blocking, self._lead, request, flight, trace)
            return done
        if not await flight.await_(self.cache.flight.wait_s):
            return flight
        return Done(flight.result)

    def _lead(self, request: Request, flight: Flight, trace: Trace) -> Flight | Done:
        """A new leader first re-checks the exact entry: an identical call may have
        stored its answer between this caller's lookup and its joining the flight."""
        hit = self._found(self.cache.peek, request, trace)
        if hit is None:
            return flight
        answer = Answer(
            payload=hit.payload, text=hit.matched_query or "", model=hit.model, usage=hit.usage
        )
        flight.resolve(answer)
        return Done(answer, hit)

    def serve_shared(
        self, request: Request, done: Done, codec: Codec[R, Any], trace: Trace
    ) -> R | None:
        """What an identical call finished with, as this caller's result (None: it
        cannot be used here; the caller calls the provider itself)."""
        if done.hit is not None:
            return self.serve(request, done.hit, codec, trace)
        answer = done.answer
        if not isinstance(answer, Answer):
            return None
        try:
            result = codec.rebuild(answer.payload, "single_flight")
        except Exception as exc:
            self.guard.failed("cache", exc, trace, outcome="miss")
            return None
        self.cache.flight._count_shared()
        usage = answer.usage or TokenUsage()
        trace.add(
            "cache",
            "shared",
            "answered by an identical call in flight",
            saved_tokens=usage.input_tokens + usage.output_tokens,
        )
        return codec.annotate(result, trace)

    # -- storing --------------------------------------------------------------------------

    def store(self, sent: Sent, answer: Answer, trace: Trace) -> None:
        """Store a call's answer under the caller's own request (what it was asked)."""
        request = sent.request
        stored = self.guard(
            "settle",
            trace,
            lambda: self.cache.store(request.cache_prompt, answer, **self._where(request, trace)),
        )
        if stored is not None:
            trace.add("settle", "stored" if stored.stored else "not stored", stored.reason or "")
