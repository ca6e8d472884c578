"""``SemanticCacheLLM``: any LlamaIndex LLM behind tokenomy's answer cache.

A thin :class:`~llama_index_tokenomy.OptimizedLLM` whose cache is on by default;
every call runs through tokenomy's request pipeline.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import LLM
from typing_extensions import override

from llama_index_tokenomy._pipeline import CACHE_HIT_KEY
from llama_index_tokenomy.optimized_llm import OptimizedLLM
from tokenomy.cache import SemanticCache
from tokenomy.errors import ConfigError
from tokenomy.monitor import UsageRecorder

__all__ = ["CACHE_HIT_KEY", "SemanticCacheLLM"]


class SemanticCacheLLM(OptimizedLLM):
    """Serves an LLM's repeated questions from tokenomy's cache; misses go to ``llm``.

    Its own methods carry no LlamaIndex callback decorators: the inner LLM's
    decorated methods report each real call once to ``TokenCountingHandler`` and to
    instrumentation, and a hit reports nothing there (it spent nothing). Hits are
    recorded as tokens saved in tokenomy's ledger: in ``recorder`` if given, else in
    the handler :func:`llama_index_tokenomy.enable` attached, if any.

    Args:
        llm: the LLM doing the work (usable as ``Settings.llm`` once wrapped).
        cache: the core cache (default: in-memory, semantic, with false-hit guards).
        scope: tenant / user whose entries this wrapper sees (default: shared scope "").
        recorder: where hits are recorded as saved (optional).
        kwargs: any other option of :class:`~llama_index_tokenomy.OptimizedLLM`
            (``window``, ``budget``, …).
    """

    def __init__(
        self,
        llm: LLM,
        cache: SemanticCache | None = None,
        *,
        scope: str | None = None,
        recorder: UsageRecorder | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(llm, LLM):
            raise ConfigError(f"llm must be a LlamaIndex LLM; got {type(llm).__name__}.")
        if cache is not None and not isinstance(cache, SemanticCache):
            raise ConfigError(
                f"cache must be a tokenomy SemanticCache; got {type(cache).__name__}."
            )
        cache = cache if cache is not None else SemanticCache()
        super().__init__(llm, cache=cache, scope=scope, recorder=recorder, **kwargs)

    @classmethod
    @override
    def class_name(cls) -> str:
        return "SemanticCacheLLM"

    @property
    @override
    def cache(self) -> SemanticCache:
        cache = self.pipeline.cache
        assert cache is not None
        return cache
