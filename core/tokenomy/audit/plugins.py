"""The plug-in interface through which each capability adds its "what this would
save" column to ``tokenomy audit``.

A plug-in is any object with a ``name``, a ``title`` and an
``estimate(context) -> SavingsEstimate`` method. Register a factory under a name
with :func:`tokenomy.audit.register_audit_plugin` (:mod:`tokenomy.audit.registry`).
The built-in estimates live beside this module, one per technique
(``semantic_cache``, ``compression``, ``context_window``, ``few_shot``,
``routing``, and ``builtin`` for the model-free ones): the audit imports the
techniques, never the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from tokenomy.audit.workload import WorkloadCall
from tokenomy.tokens.counter import TokenCounter
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = ["AuditContext", "AuditPlugin", "AuditedCall", "SavingsEstimate"]


@dataclass(frozen=True, slots=True)
class AuditedCall:
    """A workload call with its tokens and cost worked out."""

    call: WorkloadCall
    usage: TokenUsage
    exact: bool
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class SavingsEstimate:
    """What one technique would have saved on the workload.

    Attributes:
        name: the plug-in's registry name.
        title: a human label, e.g. "Exact-match cache".
        calls_affected: calls the technique would have changed.
        input_tokens_saved / output_tokens_saved: tokens not sent or not generated.
        cost_saved_usd: dollars saved (can be non-zero with 0 tokens saved, e.g.
            provider prompt caching bills the same tokens cheaper).
        findings: short sentences explaining the estimate and its caveats.
        metrics: extra numbers (e.g. a retention estimate), by name.
    """

    name: str
    title: str
    calls_affected: int
    input_tokens_saved: int
    output_tokens_saved: int
    cost_saved_usd: float
    findings: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def tokens_saved(self) -> int:
        return self.input_tokens_saved + self.output_tokens_saved


class AuditContext:
    """What a plug-in gets: the audited calls, the prices, and cached counters."""

    def __init__(self, calls: Sequence[AuditedCall], prices: PriceTable) -> None:
        self.calls = tuple(calls)
        self.prices = prices
        self._counters: dict[str, TokenCounter] = {}

    def counter(self, model: str) -> TokenCounter:
        """A token counter for ``model`` (cached)."""
        counter = self._counters.get(model)
        if counter is None:
            counter = self._counters[model] = TokenCounter(model)
        return counter

    def cost(self, model: str, usage: TokenUsage) -> float | None:
        """USD cost of ``usage`` on ``model``, None if unpriced (no warning)."""
        price = self.prices.get(model)
        return None if price is None else price.cost(usage).total_usd

    @property
    def total_cost_usd(self) -> float:
        return sum(c.cost_usd or 0.0 for c in self.calls)


@runtime_checkable
class AuditPlugin(Protocol):
    """Estimates what one technique would save on a workload."""

    name: str
    title: str

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        """Return the savings on ``context.calls``."""
        ...
