"""The few-shot column of ``tokenomy audit``: example blocks, selected under a budget.

A few-shot prompt is recognised by its examples: three or more paragraphs of
``Key: value`` lines with the same keys (``Question: …`` / ``Category: …``). The
distinct examples seen anywhere in the workload form the pool; for each call, an
:class:`ExampleSelector` (default strategy, never more tokens than the call already
spends on examples) picks examples for the call's own input, and the tokens it
would not send are the saving.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tokenomy.audit.plugins import (
    AuditContext,
    AuditedCall,
    CallSavings,
    IdentityMemo,
    SavingsEstimate,
)
from tokenomy.embed import Embedder
from tokenomy.select.selector import ExampleSelector
from tokenomy.text.messages import message_text
from tokenomy.tokens.usage import TokenUsage

__all__ = ["FewShotAuditPlugin", "find_examples"]

_FIELD = re.compile(r"^([A-Z][\w ]{0,30}):[ \t]*(.*)$")
_MIN_EXAMPLES = 3


@dataclass(frozen=True)
class FewShotBlock:
    """The examples of one prompt and the input they precede."""

    keys: tuple[str, ...]
    examples: tuple[tuple[str, ...], ...]  # field values, in ``keys`` order
    query: str


def _fields(paragraph: str) -> list[tuple[str, str]] | None:
    lines = [line for line in paragraph.strip().splitlines() if line.strip()]
    found = [_FIELD.match(line) for line in lines]
    if len(lines) < 2 or not all(found):
        return None
    return [(m.group(1), m.group(2).strip()) for m in found if m]


def find_examples(text: str) -> FewShotBlock | None:
    """The few-shot examples in a prompt text, if it has at least three of them."""
    by_keys: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    queries: dict[tuple[str, ...], str] = {}
    for paragraph in re.split(r"\n\s*\n", text):
        fields = _fields(paragraph)
        if fields is None:
            continue
        keys = tuple(k for k, _ in fields)
        values = tuple(v for _, v in fields)
        if values[-1]:
            by_keys[keys].append(values)
        else:  # "Category:" left open: the input to classify
            queries[keys] = " ".join(values[:-1])
    if not by_keys:
        return None
    keys, examples = max(by_keys.items(), key=lambda kv: len(kv[1]))
    if len(examples) < _MIN_EXAMPLES:
        return None
    return FewShotBlock(keys, tuple(examples), queries.get(keys, ""))


class FewShotAuditPlugin:
    """What budgeted few-shot selection would save on prompts that carry examples.

    Args:
        embedder: for relevance (default: the bundled MiniLM, cached).
    """

    name = "few_shot"
    title = "Few-shot selection"

    def __init__(self, *, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        found = _found(context.calls)
        if not found:
            finding = "No prompt carries a block of 3+ examples with the same fields."
            return SavingsEstimate(
                self.name, self.title, 0, 0, 0, 0.0, (finding,), per_call=CallSavings()
            )
        # the pool is the whole workload's examples, also when these calls are a sample
        sampled = context.population is not context.calls
        selectors = self._selectors(_found(context.population) if sampled else found)
        saved = affected = shown = kept = 0
        cost = 0.0
        per_call = CallSavings()
        for c, block in found:
            selector = selectors[block.keys]
            current = sum(
                selector.cost(dict(zip(block.keys, v, strict=True))) for v in block.examples
            )
            selection = selector.select(block.query, max_tokens=max(1, current))
            delta = current - selection.tokens
            shown += len(block.examples)
            kept += len(selection)
            if delta > 0:
                affected += 1
                saved += delta
                dollars = context.cost(c.call.model, TokenUsage(input_tokens=delta)) or 0.0
                cost += dollars
                per_call.add(c, input_tokens=delta, cost_usd=dollars)
        pool = sum(len(s) for s in selectors.values())
        findings = (
            f"{len(found)} prompts carry few-shot examples ({shown / len(found):.1f} per "
            f"prompt, {pool} distinct in the workload).",
            f"Budgeted selection (the default strategy, for each prompt's own input) "
            f"would show {kept / len(found):.1f} per prompt, never more tokens than now; "
            "its effect on answers is measured in benchmarks/select_fewshot.py, not here.",
        )
        return SavingsEstimate(
            self.name, self.title, affected, saved, 0, cost, findings, per_call=per_call
        )

    def _selectors(
        self, found: list[tuple[AuditedCall, FewShotBlock]]
    ) -> dict[tuple[str, ...], ExampleSelector]:
        """One pool per field layout: the distinct examples seen with those fields."""
        pools: dict[tuple[str, ...], dict[tuple[str, ...], None]] = defaultdict(dict)
        for _, block in found:
            pools[block.keys].update(dict.fromkeys(block.examples))
        return {
            keys: ExampleSelector(
                [dict(zip(keys, values, strict=True)) for values in pool],
                input_keys=list(keys[:-1]),
                label_key=keys[-1],
                embedder=self._embedder,
            )
            for keys, pool in pools.items()
        }


def _found(calls: Sequence[AuditedCall]) -> list[tuple[AuditedCall, FewShotBlock]]:
    """The calls whose prompt carries few-shot examples, with their examples."""
    found = []
    blocks = IdentityMemo(lambda m: find_examples(message_text(m)))  # once per shared message
    for c in calls:
        for m in c.call.messages or ({"role": "user", "content": c.call.prompt or ""},):
            block = blocks(m)
            if block is not None and block.query:
                found.append((c, block))
                break
    return found
