"""The gateway's columns of ``tokenomy audit``: the de-duplication window, and the Batch
API's discount on features nobody waits on (see docs/gateway.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection
from typing import Final

from tokenomy.audit.builtin import _ordered, _request_key
from tokenomy.audit.plugins import AuditContext, AuditPlugin, CallSavings, SavingsEstimate

__all__ = [
    "BATCH_DISCOUNT",
    "GATEWAY_PLUGINS",
    "NON_INTERACTIVE",
    "BatchApiPlugin",
    "DedupWindowPlugin",
]

BATCH_DISCOUNT: Final = 0.5
"""What OpenAI's Batch API and Anthropic's Message Batches take off both input and
output prices."""
NON_INTERACTIVE: Final = re.compile(
    r"classif|extract|tagg|label|summar|report|batch|nightly|moderat|embed|translat|enrich|"
    r"index|backfill|offline|eval",
    re.IGNORECASE,
)
"""Feature names taken as work nobody waits on, when no list is given."""


class DedupWindowPlugin:
    """The gateway's de-duplication window: a request identical to one made within
    ``window_s`` seconds (same model, messages and tools, same ``tags.tenant`` if any)
    shares that call's answer, with the answer cache off or not."""

    name = "dedup_window"
    title = "De-duplication window"

    def __init__(self, *, window_s: float = 60.0) -> None:
        self.window_s = window_s

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        last: dict[tuple[str, str], float] = {}
        inp = out = hits = 0
        cost = 0.0
        per_call = CallSavings()
        for c in _ordered(context.calls):
            key = (c.call.tags.get("tenant", ""), _request_key(c))
            now = c.call.timestamp or 0.0
            previous = last.get(key)
            last[key] = now
            if previous is not None and now - previous <= self.window_s:
                hits += 1
                per_call.add_whole(c)
                inp += c.usage.input_tokens
                out += c.usage.output_tokens
                cost += c.cost_usd or 0.0
        findings = (
            f"{hits} of {len(context.calls)} calls repeat an identical request made within "
            f"{self.window_s:.0f} s: the gateway's window answers them without an upstream call "
            "(on the exact-match cache's row too: the window matters where there is no cache, "
            "and across replicas).",
        )
        return SavingsEstimate(
            self.name, self.title, hits, inp, out, cost, findings, per_call=per_call
        )


class BatchApiPlugin:
    """The Batch API's discount on non-interactive features: their calls sent as
    deferrable requests (same tokens, ``discount`` off the price).

    Args:
        features: the ``tags.feature`` values that are non-interactive (default: those
            whose name matches :data:`NON_INTERACTIVE`: classify, extract, summarize,
            report, nightly…).
        discount: the share of the price taken off (default 0.5).
    """

    name = "batch_api"
    title = "Batch API, offline work"

    def __init__(
        self, *, features: Collection[str] | None = None, discount: float = BATCH_DISCOUNT
    ) -> None:
        self.features = None if features is None else frozenset(features)
        self.discount = discount

    def _deferrable(self, feature: str | None) -> bool:
        if not feature:
            return False
        if self.features is not None:
            return feature in self.features
        return NON_INTERACTIVE.search(feature) is not None

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        chosen: Counter[str] = Counter()
        kept: Counter[str] = Counter()
        cost = 0.0
        per_call = CallSavings()
        for c in context.calls:
            feature = c.call.tags.get("feature")
            if self._deferrable(feature):
                chosen[str(feature)] += 1
                cost += (c.cost_usd or 0.0) * self.discount
                per_call.add(c, cost_usd=(c.cost_usd or 0.0) * self.discount)
            elif feature:
                kept[feature] += 1
        named = ", ".join(f"{f} ({n})" for f, n in chosen.most_common()) or "none"
        others = ", ".join(f for f, _ in kept.most_common()) or "none"
        how = "as listed" if self.features is not None else "by name"
        findings = (
            f"Non-interactive features ({how}): {named}; sent as Batch API jobs "
            f'(tokenomy serve: "deferrable") they cost {self.discount:.0%} less and answer '
            f"within 24 h. Taken as interactive: {others}.",
        )
        return SavingsEstimate(
            self.name, self.title, sum(chosen.values()), 0, 0, cost, findings, per_call=per_call
        )


GATEWAY_PLUGINS: Final[dict[str, Callable[[], AuditPlugin]]] = {
    DedupWindowPlugin.name: DedupWindowPlugin,
    BatchApiPlugin.name: BatchApiPlugin,
}
