"""The routing column of ``tokenomy audit``: each call re-priced on the model a router picks.

The router is unfitted here (it knows no outcomes of yours): it ranks the model
table by its quality priors, lowered for complex prompts. It only routes down, and
conservatively: a call moves to a cheaper model of the table when that model is
predicted to reach the quality target and to be at most ``tolerance`` less likely
to succeed than the model the call used (or, for a model not in the table, than
the table's best). Token counts stay the same; only their price changes.
"""

from __future__ import annotations

from collections import Counter

from tokenomy.audit.plugins import AuditContext, CallSavings, SavingsEstimate
from tokenomy.route.models import ModelTable
from tokenomy.route.router import DEFAULT_QUALITY_TARGET, Router

__all__ = ["RoutingAuditPlugin"]


class RoutingAuditPlugin:
    """What routing each call to the cheapest adequate model of ``table`` would save.

    Args:
        table: the models calls may go to (default: :meth:`ModelTable.default`).
        quality_target: predicted success a cheaper model must reach (default 0.7).
        tolerance: how much less likely to succeed than the call's own model a cheaper
            one may be (default 0.1).
    """

    name = "routing"
    title = "Model routing"

    def __init__(
        self,
        *,
        table: ModelTable | None = None,
        quality_target: float = DEFAULT_QUALITY_TARGET,
        tolerance: float = 0.1,
    ) -> None:
        self.router = Router(table or ModelTable.default(), quality_target=quality_target)
        self.tolerance = tolerance

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        moved: Counter[tuple[str, str]] = Counter()
        saved = 0.0
        per_call = CallSavings()
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
            text = c.call.last_user_text
            success = self.router.predict(text)
            reference = success.get(c.call.model, max(success.values()))
            bar = max(self.router.quality_target or 0.0, reference - self.tolerance)
            decision = self.router.route(
                text, input_tokens=c.usage.input_tokens, among=cheaper, quality_target=bar
            )
            if decision.model not in cheaper or decision.success[decision.model] < bar:
                continue  # no cheaper model is predicted to do nearly as well
            spec = self.router.models[decision.model]
            saving = current - spec.cost_usd(c.usage.input_tokens, c.usage.output_tokens)
            saved += saving
            per_call.add(c, cost_usd=saving)
            moved[(c.call.model, decision.model)] += 1
        affected = sum(moved.values())
        target = self.router.quality_target or 0.0
        findings = [
            f"{affected} of {len(context.calls)} calls would go to a cheaper model of the "
            f"table predicted to reach {target:.0%} success and to be at most "
            f"{self.tolerance:.0%} less likely to succeed than the call's own model.",
            "An unfitted router (quality priors and prompt complexity): a rough estimate "
            "until Router.fit learns from your outcomes.",
        ]
        for (src, dst), n in moved.most_common(3):
            findings.append(f"{n} calls {src} -> {dst}")
        return SavingsEstimate(
            self.name, self.title, affected, 0, 0, saved, tuple(findings), per_call=per_call
        )
