"""The routing column of ``tokenomy audit``: each call re-priced on the model a router picks.

The router is unfitted here (it knows no outcomes of yours): it ranks the model
table by its quality priors, lowered for complex prompts. It only routes down: a
call is moved to a cheaper model of the table when that model is predicted to meet
the quality target, never to a pricier one, so the column is a saving or zero.
Token counts stay the same; only their price changes.
"""

from __future__ import annotations

from collections import Counter

from tokenomy.audit.plugins import AuditContext, SavingsEstimate
from tokenomy.route.models import ModelTable
from tokenomy.route.router import Router

__all__ = ["RoutingAuditPlugin"]


class RoutingAuditPlugin:
    """What routing each call to the cheapest adequate model of ``table`` would save.

    Args:
        table: the models calls may go to (default: :meth:`ModelTable.default`).
        quality_target: predicted success a cheaper model must reach (default 0.7).
    """

    name = "routing"
    title = "Model routing"

    def __init__(self, *, table: ModelTable | None = None, quality_target: float = 0.7) -> None:
        self.router = Router(table or ModelTable.default(), quality_target=quality_target)

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        moved: Counter[tuple[str, str]] = Counter()
        saved = 0.0
        for c in context.calls:
            if c.cost_usd is None or not c.usage.total_tokens:
                continue
            current = c.cost_usd
            cheaper = [
                m.name
                for m in self.router.models
                if m.cost_usd(c.usage.input_tokens, c.usage.output_tokens) < current
            ]
            if not cheaper:
                continue
            decision = self.router.route(
                c.call.last_user_text, input_tokens=c.usage.input_tokens, among=cheaper
            )
            if decision.model not in cheaper:
                continue
            spec = self.router.models[decision.model]
            if decision.success[decision.model] < (self.router.quality_target or 0.0):
                continue  # no cheaper model is predicted to do well enough
            saved += current - spec.cost_usd(c.usage.input_tokens, c.usage.output_tokens)
            moved[(c.call.model, decision.model)] += 1
        affected = sum(moved.values())
        target = self.router.quality_target or 0.0
        findings = [
            f"{affected} of {len(context.calls)} calls would go to a cheaper model of the "
            f"table predicted to reach {target:.0%} success (an unfitted router: quality "
            "priors and prompt complexity; fit it on your outcomes)."
        ]
        for (src, dst), n in moved.most_common(3):
            findings.append(f"{n} calls {src} -> {dst}")
        return SavingsEstimate(self.name, self.title, affected, 0, 0, saved, tuple(findings))
