"""``RoutingLLM``: each LlamaIndex call to the cheapest LLM predicted to answer it well.

Usable as ``Settings.llm`` or in any engine. A thin
:class:`~llama_index_tokenomy.OptimizedLLM` over several LLMs: when the chosen LLM
raises, times out or overflows its context window, the others are tried, cheapest
first; the choice is in ``response.additional_kwargs["tokenomy_route"]``. Its
methods carry no callback decorators: the chosen LLM's own decorated methods report
the real call once to instrumentation and token counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.llms import LLM
from typing_extensions import override

from llama_index_tokenomy._pipeline import ROUTE_KEY
from llama_index_tokenomy.optimized_llm import OptimizedLLM
from tokenomy.budget import Budget
from tokenomy.route import Router

__all__ = ["ROUTE_KEY", "RoutingLLM"]


class RoutingLLM(OptimizedLLM):
    """Routes each call among named LLMs with a :class:`tokenomy.route.Router`.

    Args:
        llms: the LLMs by name; the router's model table must name them all.
        router: decides (its table carries prices, windows, quality).
        budget: a :class:`tokenomy.budget.Budget`: each call reserves its
            upper-bound cost at the table's prices and settles to the actual cost;
            when it runs low the router picks cheaper LLMs.
        timeout_s: per-LLM time limit before falling back (default None).
        kwargs: any other option of :class:`~llama_index_tokenomy.OptimizedLLM`
            (``cache``, ``window``, …).
    """

    def __init__(
        self,
        llms: Mapping[str, LLM],
        router: Router,
        *,
        budget: Budget | None = None,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(llms=llms, router=router, budget=budget, timeout_s=timeout_s, **kwargs)

    @classmethod
    @override
    def class_name(cls) -> str:
        return "RoutingLLM"

    @property
    @override
    def router(self) -> Router:
        router = self.pipeline.router
        assert router is not None
        return router
