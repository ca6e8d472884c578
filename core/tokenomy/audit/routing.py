"""The routing column of ``tokenomy audit``: each call re-priced on the model a router
picks, with the share of answers predicted to get worse.

The router is the default one (:class:`tokenomy.route.Router` unfitted): its prior
was fitted on public outcomes (MMLU and MT-Bench, Mixtral-8x7B against GPT-4), not
on yours. It only routes down: a call moves to the cheapest model of the table
whose predicted success is at most ``tolerance`` below that of the call's own model
(its quality tier, or the table's best for a model without one). Each moved call
carries a predicted quality drop (own success minus the cheaper model's, at least
zero); their mean over all calls, scaled by what that prediction missed by on task
families the prior was not fitted on (``TierPrior.drop_ratio``: measured / predicted
drop, min and max over held-out MMLU groups; the estimate uses their midpoint, the
interval both, widened by the sampling noise), is the predicted share of answers
that get worse.

When calls carry outcomes (a tag ``outcome`` in [0, 1], ``feedback`` good/bad or
``judge_score`` 1-10), the router learns them first (``Router.update``) and, where
the same prompt was answered by both the call's model and the cheaper one, the
column reports the measured drop on those pairs instead. Token counts stay the
same; only their price changes.

The router embeds each distinct question (MiniLM), so on a large workload the column
is measured on the audit's stratified sample (:mod:`tokenomy.audit.sampling`), with an
interval; the outcomes it learns come from every call (``context.population``).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter, defaultdict

from tokenomy.audit.plugins import (
    AuditContext,
    AuditedCall,
    CallSavings,
    IdentityMemo,
    SavingsEstimate,
)
from tokenomy.route.models import QUALITY_TIERS, ModelTable
from tokenomy.route.router import Router

__all__ = ["RoutingAuditPlugin", "call_outcome"]

_FEEDBACK = {"good": 1.0, "up": 1.0, "thumbs_up": 1.0, "bad": 0.0, "down": 0.0, "thumbs_down": 0.0}


def call_outcome(call: AuditedCall) -> float | None:
    """The outcome a call's tags carry, in [0, 1], or None."""
    tags = call.call.tags
    try:
        if "outcome" in tags:
            value = float(tags["outcome"])
        elif "judge_score" in tags:
            value = (float(tags["judge_score"]) - 1.0) / 9.0
        elif "feedback" in tags:
            value = _FEEDBACK[tags["feedback"].strip().lower()]
        else:
            return None
    except (KeyError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


class RoutingAuditPlugin:
    """What routing each call to the cheapest adequate model of ``table`` would save,
    and the share of answers predicted (or measured) to get worse.

    Args:
        table: the models calls may go to (default: :meth:`ModelTable.default`).
        tolerance: how much less likely to succeed than the call's own model a cheaper
            one may be predicted to be (default 0.05).
        quality_target: a floor the cheaper model's predicted success must reach too
            (default None: the tolerance alone).
        router: the router (default: an unfitted :class:`Router` on ``table``).
    """

    name = "routing"
    title = "Model routing"

    def __init__(
        self,
        *,
        table: ModelTable | None = None,
        tolerance: float = 0.05,
        quality_target: float | None = None,
        router: Router | None = None,
    ) -> None:
        self.router = router or Router(table or ModelTable.default(), quality_target=None)
        self.tolerance = tolerance
        self.quality_target = quality_target

    def _own_success(self, model: str, success: dict[str, float], text: str) -> float:
        if model in success:
            return success[model]
        tier = QUALITY_TIERS.get(model)
        if tier is None:
            return max(success.values())
        return self.router.success_at(text, tier)

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        calls = context.calls
        # the outcomes of every call (the whole workload when ``calls`` is a sample)
        outcomes = {id(c): o for c in context.population if (o := call_outcome(c)) is not None}
        learned = [c for c in context.population if id(c) in outcomes]
        # one batch: the router's embedder caches, later lookups are hits (if it fails,
        # predict reads features only)
        with contextlib.suppress(Exception):
            self.router.embedder.embed(sorted({c.call.last_user_text for c in (*calls, *learned)}))
        for c in learned:
            if c.call.model in self.router.models.names:
                self.router.update(c.call.last_user_text, c.call.model, outcomes[id(c)])
        by_prompt: dict[str, dict[str, float]] = defaultdict(dict)
        for c in learned:
            by_prompt[c.call.last_user_text][c.call.model] = outcomes[id(c)]

        def predict(text: str, model: str) -> tuple[dict[str, float], float]:
            success = self.router.predict(text)
            return success, self._own_success(model, success, text)

        predict_of = IdentityMemo(predict)  # once per distinct question: the router is fitted
        moved: Counter[tuple[str, str]] = Counter()
        per_call = CallSavings()
        saved, drops, measured = 0.0, [], []
        for c in calls:
            if c.cost_usd is None or not c.usage.total_tokens:
                continue
            cost = {
                m.name: m.cost_usd(c.usage.input_tokens, c.usage.output_tokens)
                for m in self.router.models
            }
            cheaper = [m for m, v in cost.items() if v < c.cost_usd and m != c.call.model]
            if not cheaper:
                continue
            text = c.call.last_user_text
            success, own = predict_of(text, c.call.model)
            bar = max(own - self.tolerance, self.quality_target or 0.0)
            good = [m for m in cheaper if success[m] >= bar]
            if not good:
                continue
            dest = min(good, key=lambda m: cost[m])
            saved += c.cost_usd - cost[dest]
            per_call.add(c, cost_usd=c.cost_usd - cost[dest])
            moved[(c.call.model, dest)] += 1
            drops.append(max(0.0, own - success[dest]))
            seen = by_prompt.get(text, {})
            if c.call.model in seen and dest in seen:
                measured.append(max(0.0, seen[c.call.model] - seen[dest]))
        affected = sum(moved.values())
        n = max(len(calls), 1)
        raw = sum(drops) / n
        lo_ratio, hi_ratio = self.router.prior.drop_ratio
        predicted = raw * (lo_ratio + hi_ratio) / 2
        noise = 1.96 * math.sqrt(sum(d * (1 - d) for d in drops)) / n
        low, high = max(0.0, raw * lo_ratio - noise), min(1.0, raw * hi_ratio + noise)
        metrics = {
            "predicted_quality_drop_share": predicted,
            "quality_drop_low": low,
            "quality_drop_high": high,
            "outcomes_seen": float(len(outcomes)),
        }
        findings = [
            f"{affected} of {len(calls)} calls would go to a cheaper model of the table "
            f"predicted to be at most {self.tolerance:.0%} less likely to answer well; "
            f"predicted share of answers that get worse: {predicted:.1%} "
            f"(interval {low:.1%}-{high:.1%}), each answer scored on its own (right or "
            "wrong, a 1-10 judge score); side by side with the call's own model's answer, "
            "a judge may prefer the stronger model's far more often (GPT-4's over "
            "Mixtral's on 77% of the AlpacaEval instructions this rule moves: "
            "docs/routing.md, 'Fresh outcomes').",
        ]
        if measured:
            share = sum(measured) / len(measured)
            metrics["measured_quality_drop_share"] = share
            metrics["measured_pairs"] = float(len(measured))
            findings.append(
                f"Measured on {len(measured)} moved calls whose prompt the cheaper model "
                f"also answered (outcomes in the workload): {share:.1%} of them got worse."
            )
        elif outcomes:
            findings.append(
                f"{len(outcomes)} outcomes in the workload were learned (Router.update); "
                "no moved call's prompt was answered by both models, so the drop stays "
                "predicted."
            )
        else:
            findings.append(
                "The default router (fitted on public MMLU and MT-Bench outcomes, not "
                "yours): add outcomes (tags outcome, feedback or judge_score) or "
                "Router.update(...) to measure it on your workload."
            )
        for (src, dst), k in moved.most_common(3):
            findings.append(f"{k} calls {src} -> {dst}")
        return SavingsEstimate(
            self.name,
            self.title,
            affected,
            0,
            0,
            saved,
            tuple(findings),
            metrics,
            per_call=per_call,
        )
