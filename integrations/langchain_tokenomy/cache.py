"""A drop-in LangChain LLM cache backed by tokenomy's semantic cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from typing_extensions import override

from langchain_tokenomy._cache_convert import (
    answer_from_generations,
    generations_from_payload,
    parse_prompt,
)
from tokenomy.cache import Answer, CacheHit, SemanticCache
from tokenomy.cache.singleflight import Flight, SingleFlight
from tokenomy.errors import ConfigError

__all__ = ["TokenomyCache", "cache_scope", "current_scope"]

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 60.0

_scope: ContextVar[str | None] = ContextVar("tokenomy_cache_scope", default=None)


@contextmanager
def cache_scope(scope: str | None) -> Iterator[None]:
    """Run the block with ``scope`` (a tenant or user id) as the cache scope.

    LangChain's cache interface does not pass the run's config, so the scope of a
    request travels in a context variable. Entries are private to their scope
    unless the cache was built with ``share_across_scopes=True``.

    Example:
        >>> with cache_scope("alice"):
        ...     current_scope()
        'alice'
    """
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> str | None:
    """The scope set by the innermost :func:`cache_scope`, if any."""
    return _scope.get()


def technique(hit: CacheHit) -> str:
    """The saving technique a hit is recorded under."""
    return "exact_cache" if hit.kind == "exact" else "semantic_cache"


class TokenomyCache(BaseCache):
    """LangChain ``BaseCache`` over :class:`tokenomy.cache.SemanticCache`.

    ``set_llm_cache(TokenomyCache())`` makes every unchanged chain consult it. Keys
    are normalized chat messages (ids, usage and response metadata dropped, so a
    conversation hits on every turn of its second run); the model and its
    parameters (``llm_string``) and the scope partition the entries *before* any
    vector search. A hit's message carries a marker that
    :class:`~langchain_tokenomy.TokenomyCallbackHandler` records as tokens saved.

    LangChain does not consult a cache when a model streams; for streaming use
    :class:`~langchain_tokenomy.OptimizedChatModel`.

    **Single-flight.** Concurrent identical misses make one model call: the first
    lookup of a key returns a miss and marks the key in flight; lookups of the same
    key meanwhile wait for its ``update`` and are served its answer. LangChain's
    cache interface separates lookup from update and says nothing when the call in
    between fails, so a waiter waits at most ``wait_s`` for the update; then one
    waiter (not all) takes the call over, and the others wait for it in turn.

    Args:
        cache: the core cache (default: an in-memory semantic cache with the local
            MiniLM and the default false-hit guards).
        wait_s: how long a concurrent identical call waits for the first one's
            answer before making the call itself (default 60 s; None: no
            single-flight).

    Example:
        >>> from langchain_core.globals import set_llm_cache
        >>> from tokenomy.cache import SemanticCache
        >>> set_llm_cache(TokenomyCache(SemanticCache(mode="exact")))
        >>> set_llm_cache(None)
    """

    def __init__(
        self, cache: SemanticCache | None = None, *, wait_s: float | None = DEFAULT_WAIT_S
    ) -> None:
        if cache is not None and not isinstance(cache, SemanticCache):
            raise ConfigError(
                f"cache must be a tokenomy.cache.SemanticCache; got {type(cache).__name__}."
            )
        if wait_s is not None and not wait_s > 0:
            raise ConfigError(f"wait_s must be > 0 seconds or None; got {wait_s!r}.")
        self.cache = cache if cache is not None else SemanticCache()
        self.flight: SingleFlight[Any] = SingleFlight(wait_s=wait_s)
        self._single = wait_s is not None

    def _key(self, prompt: str, llm_string: str) -> tuple[Any, Hashable | None]:
        request = parse_prompt(prompt)
        if not self._single:
            return request, None
        try:
            key = self.cache.key(request, llm=llm_string, scope=current_scope())
        except Exception:  # no single-flight for a prompt the cache cannot key
            return request, None
        return request, (key.partition, key.exact)

    def _hit(self, request: Any, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            hit = self.cache.lookup(request, llm=llm_string, scope=current_scope())
        except Exception as exc:  # never fail the call over the cache: a miss
            log.warning("tokenomy: cache lookup failed (%r); calling the model.", exc)
            return None
        if hit is None:
            return None
        try:
            return generations_from_payload(hit.payload, technique(hit))
        except Exception as exc:  # an entry that cannot be rebuilt is a miss, and goes
            log.warning("tokenomy: a cached answer could not be rebuilt (%r); discarded.", exc)
            self.cache.discard(hit)
            return None

    @staticmethod
    def _shared(flight: Flight) -> RETURN_VAL_TYPE | None:
        answer = flight.result
        if not isinstance(answer, Answer):
            return None
        try:
            return generations_from_payload(answer.payload, "single_flight")
        except Exception:
            return None

    @override
    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        request, key = self._key(prompt, llm_string)
        found = self._hit(request, llm_string)
        if found is not None or key is None:
            return found
        flight, leader = self.flight.join(key)
        if leader or not flight.wait(self.flight.wait_s):
            return None  # this caller calls the model; its update() releases the waiters
        found = self._shared(flight)
        if found is not None:
            self.flight._count_shared()
        return found

    @override
    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        request, key = self._key(prompt, llm_string)
        answer = None
        try:
            answer = answer_from_generations(return_val, llm_string)
            self.cache.store(request, answer, llm=llm_string, scope=current_scope())
        except Exception as exc:  # the answer is paid for and returned all the same
            log.warning("tokenomy: storing an answer failed (%r); not cached.", exc)
        finally:
            self._release(key, answer)

    def _release(self, key: Hashable | None, answer: Answer | None) -> None:
        flight = self.flight.current(key) if key is not None else None
        if flight is not None and answer is not None:
            flight.resolve(answer)
        elif flight is not None:
            flight.abandon()

    @override
    def clear(self, **kwargs: Any) -> None:
        self.cache.clear()

    @override
    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        request, key = self._key(prompt, llm_string)
        found = await asyncio.to_thread(self._hit, request, llm_string)
        if found is not None or key is None:
            return found
        flight, leader = self.flight.join(key)
        if leader or not await flight.await_(self.flight.wait_s):
            return None  # this caller calls the model; its update() releases the waiters
        found = self._shared(flight)
        if found is not None:
            self.flight._count_shared()
        return found

    @override
    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        request, key = self._key(prompt, llm_string)
        answer = None
        try:
            answer = answer_from_generations(return_val, llm_string)
            await self.cache.astore(request, answer, llm=llm_string, scope=current_scope())
        except Exception as exc:
            log.warning("tokenomy: storing an answer failed (%r); not cached.", exc)
        finally:
            self._release(key, answer)

    @override
    async def aclear(self, **kwargs: Any) -> None:
        await asyncio.to_thread(self.cache.clear)
