"""A drop-in LangChain LLM cache backed by tokenomy's semantic cache."""

from __future__ import annotations

from collections.abc import Iterator
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
from tokenomy.cache import CacheHit, SemanticCache
from tokenomy.errors import ConfigError

__all__ = ["TokenomyCache", "cache_scope", "current_scope"]

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

    Args:
        cache: the core cache (default: an in-memory semantic cache with the local
            MiniLM and the default false-hit guards).

    Example:
        >>> from langchain_core.globals import set_llm_cache
        >>> from tokenomy.cache import SemanticCache
        >>> set_llm_cache(TokenomyCache(SemanticCache(mode="exact")))
        >>> set_llm_cache(None)
    """

    def __init__(self, cache: SemanticCache | None = None) -> None:
        if cache is not None and not isinstance(cache, SemanticCache):
            raise ConfigError(
                f"cache must be a tokenomy.cache.SemanticCache; got {type(cache).__name__}."
            )
        self.cache = cache if cache is not None else SemanticCache()

    @override
    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        hit = self.cache.lookup(parse_prompt(prompt), llm=llm_string, scope=current_scope())
        return None if hit is None else generations_from_payload(hit.payload, technique(hit))

    @override
    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        answer = answer_from_generations(return_val, llm_string)
        self.cache.store(parse_prompt(prompt), answer, llm=llm_string, scope=current_scope())

    @override
    def clear(self, **kwargs: Any) -> None:
        self.cache.clear()

    @override
    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        hit = await self.cache.alookup(parse_prompt(prompt), llm=llm_string, scope=current_scope())
        return None if hit is None else generations_from_payload(hit.payload, technique(hit))

    @override
    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        answer = answer_from_generations(return_val, llm_string)
        await self.cache.astore(parse_prompt(prompt), answer, llm=llm_string, scope=current_scope())

    @override
    async def aclear(self, **kwargs: Any) -> None:
        import asyncio

        await asyncio.to_thread(self.cache.clear)
