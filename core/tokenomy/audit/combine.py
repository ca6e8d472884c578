"""All techniques together: the columns of ``tokenomy audit`` combined without counting
a saving twice.

Each column is measured alone on the whole workload, so they overlap (a call served
from the cache is not also compressed or routed) and their rows do not add up. The
combination replays every call through the stages in the pipeline's order, from the
savings each column reports per call (``SavingsEstimate.per_call``):

1. **cache** (exact, semantic per user or shared, the gateway's de-duplication
   window): a call any of them serves costs nothing; it saves all of its tokens.
2. **context** (compression, conversation window, few-shot selection) and **output**
   (response length), on the calls the cache missed: the input tokens of the one
   context technique that saves most on the call (they can act on the same text, so
   they are not added), and the output tokens not generated; priced on the call's model.
3. **price** (routing, provider prompt caching, the Batch API): each bills what
   remains for less; the share each saves on the call is applied to what remains, one
   after the other (routing's share measured on the call's own tokens).

A column without per-call savings, or of a stage not listed in :data:`STAGES`, is
left out and named. So is a column that changes which model answers
(:data:`CHANGES_ANSWERS`: routing): the combination counts only what is saved with the
answers left as they are, and such a column reports its own predicted quality cost.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from tokenomy.audit.plugins import AuditedCall, CallSavings, SavingsEstimate

__all__ = ["CHANGES_ANSWERS", "STAGES", "CombinedEstimate", "combine"]

STAGES: Final[Mapping[str, str]] = {
    "exact_cache": "cache",
    "semantic_cache": "cache",
    "semantic_cache_shared": "cache",
    "dedup_window": "cache",
    "compression": "context",
    "context_window": "context",
    "few_shot": "context",
    "output_caps": "output",
    "routing": "price",
    "prompt_caching": "price",
    "batch_api": "price",
}
"""The pipeline stage of each built-in column; a plug-in of yours names its own with a
``stage`` attribute ("cache", "context", "output" or "price")."""

CHANGES_ANSWERS: Final = frozenset({"routing"})
"""Columns whose saving comes from another model answering: kept out of the combined
estimate, which adds up only savings at unchanged answers."""


@dataclass(frozen=True)
class CombinedEstimate:
    """What all the combined columns would save together.

    ``interval_usd`` and ``sampled_calls`` are set when a model-heavy column was
    estimated on a sample (the combination is then estimated on the same sample).
    """

    calls_affected: int
    input_tokens_saved: int
    output_tokens_saved: int
    cost_saved_usd: float
    included: tuple[str, ...]
    left_out: tuple[str, ...]
    changes_answers: tuple[str, ...] = ()
    interval_usd: tuple[float, float] | None = None
    sampled_calls: int = 0

    @property
    def tokens_saved(self) -> int:
        return self.input_tokens_saved + self.output_tokens_saved


def _dense(
    rows: Iterable[tuple[int, int, int, float]], size: int
) -> tuple[array[int], array[int], array[float]]:
    """Per-line sums of (input tokens, output tokens, dollars)."""
    inp, out, cost = array("l", [0]) * size, array("l", [0]) * size, array("d", [0.0]) * size
    for line, i, o, c in rows:
        if line >= size:
            continue
        inp[line] += i
        out[line] += o
        cost[line] += c
    return inp, out, cost


def combine(
    savings: Sequence[SavingsEstimate],
    calls: Sequence[AuditedCall],
    *,
    stages: Mapping[str, str] = STAGES,
    changes_answers: Collection[str] = CHANGES_ANSWERS,
) -> tuple[CallSavings, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The combined saving on each call, with the titles of the columns included, left
    out, and left out because they change the answers."""
    size = max((c.call.line for c in calls), default=0) + 1  # rows past it: not in calls
    call_cost = array("d", [0.0]) * size
    for c in calls:
        call_cost[c.call.line] = c.cost_usd or 0.0
    hit = bytearray(size)
    ctx_in, ctx_cost = array("l", [0]) * size, array("d", [0.0]) * size
    out_tok, out_cost = array("l", [0]) * size, array("d", [0.0]) * size
    factor = array("d", [1.0]) * size
    included: list[str] = []
    left_out: list[str] = []
    quality: list[str] = []
    for s in savings:
        stage = stages.get(s.name)
        if s.name in changes_answers:
            quality.append(s.title)
            continue
        if s.per_call is None or stage not in ("cache", "context", "output", "price"):
            left_out.append(s.title)
            continue
        included.append(s.title)
        if stage == "cache":
            for line, *_ in s.per_call:
                if line < size:
                    hit[line] = 1
            continue
        inp, out, cost = _dense(s.per_call, size)
        for line in range(size):
            if not cost[line] and not inp[line] and not out[line]:
                continue
            if stage == "context" and cost[line] >= ctx_cost[line]:
                ctx_in[line], ctx_cost[line] = inp[line], cost[line]
            elif stage == "output" and cost[line] >= out_cost[line]:
                out_tok[line], out_cost[line] = out[line], cost[line]
            elif stage == "price" and call_cost[line] > 0:
                factor[line] *= 1.0 - min(1.0, cost[line] / call_cost[line])
    combined = CallSavings()
    for c in calls:
        line = c.call.line
        if hit[line]:
            combined.add_whole(c)
            continue
        spent = call_cost[line]
        remaining = max(0.0, spent - ctx_cost[line] - out_cost[line])
        saved = spent - remaining * factor[line]
        if saved > 0 or ctx_in[line] or out_tok[line]:
            combined.add(c, input_tokens=ctx_in[line], output_tokens=out_tok[line], cost_usd=saved)
    return combined, tuple(included), tuple(left_out), tuple(quality)
