"""The gateway's columns of ``tokenomy audit``: the de-duplication window, the Batch
API's discount on features nobody waits on, and the prefix-cache-friendly layout
(see docs/gateway.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any, Final

from tokenomy.audit.builtin import _ordered, _request_key
from tokenomy.audit.plugins import AuditContext, AuditPlugin, CallSavings, SavingsEstimate

__all__ = [
    "BATCH_DISCOUNT",
    "GATEWAY_PLUGINS",
    "NON_INTERACTIVE",
    "BatchApiPlugin",
    "DedupWindowPlugin",
    "PrefixLayoutPlugin",
    "SharedContextPlugin",
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
            key = (c.call.tags.get("tenant", ""), _request_key(c, context))
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


_CACHE_MIN_TOKENS: Final = 1024  # OpenAI caches prefixes from 1,024 tokens
_CACHE_STEP_TOKENS: Final = 128  # ... in steps of 128
_CACHE_TTL_S: Final = 300.0  # ... for about 5 minutes after their last use


def _common(a: str, b: str) -> int:
    """Length of the common prefix of ``a`` and ``b`` (binary search on slices)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _cached(tokens: int) -> int:
    if tokens < _CACHE_MIN_TOKENS:
        return 0
    return (
        _CACHE_MIN_TOKENS + (tokens - _CACHE_MIN_TOKENS) // _CACHE_STEP_TOKENS * _CACHE_STEP_TOKENS
    )


class PrefixLayoutPlugin:
    """The prefix-hit share of provider prompt caching, as sent and with the gateway's
    prefix-cache-friendly layout (``prefix_layout``: tools sorted, late system
    messages and volatile system-prompt lines moved; ``tokenomy.serve.layout``).

    Each call's cached prefix is the longest prefix it shares with a call to the same
    model used within ``ttl_s`` (OpenAI's rule: from 1,024 tokens, in steps of 128);
    the saving is the extra cached tokens the layout gives, at the cached-input price.
    """

    name = "prefix_layout"
    title = "Prefix-cache layout"

    def __init__(self, *, ttl_s: float = _CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s

    def _shares(self, context: AuditContext, laid: bool) -> list[int]:
        from tokenomy.serve.layout import lay_out, prefix_text

        def prefix(messages: object, tools: object) -> str:
            body: dict[str, object] = {"messages": messages or [], "tools": tools}
            if laid:
                body, _ = lay_out(body)
            return prefix_text(body["messages"], body["tools"])  # type: ignore[arg-type]

        prefix_of = context.memo(f"prefix_text_{laid}", prefix)
        recent: dict[str, dict[str, float]] = {}  # model -> prefix text -> last use
        out = []
        for c in _ordered(context.calls):
            call = c.call
            text = prefix_of(call.messages, call.tools)
            now = call.timestamp or 0.0
            seen = recent.setdefault(call.model, {})
            for old in [t for t, at in seen.items() if now - at > self.ttl_s]:
                del seen[old]
            common = max((_common(text, t) for t in seen), default=0)
            seen[text] = now
            tokens = context.counter(call.model).count(text[:common]) if common else 0
            out.append(min(_cached(tokens), c.usage.input_tokens))
        return out

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        sent = self._shares(context, laid=False)
        laid = self._shares(context, laid=True)
        total = sum(c.usage.input_tokens for c in context.calls) or 1
        affected = 0
        cost = 0.0
        for c, before, after in zip(_ordered(context.calls), sent, laid, strict=True):
            price = context.prices.get(c.call.model)
            if after <= before or price is None or price.cached_input is None:
                continue
            affected += 1
            cost += (after - before) * (price.input - price.cached_input) / 1e6
        findings = (
            f"Prefix-hit share of input tokens (a provider's prompt cache, {self.ttl_s:.0f} s): "
            f"{sum(sent) / total:.1%} as sent, {sum(laid) / total:.1%} with the gateway's "
            f"prefix_layout ({affected} calls gain).",
        )
        metrics = {
            "prefix_hit_share_as_sent": sum(sent) / total,
            "prefix_hit_share_laid_out": sum(laid) / total,
        }
        return SavingsEstimate(
            self.name, self.title, affected, 0, 0, cost, findings, metrics=metrics
        )


class SharedContextPlugin:
    """The gateway's shared-context grouping (``grouping.*``): calls to one model of one
    tenant carrying the same context (the messages before the question, at least
    ``min_context_chars``) within ``wait_s`` of the first of their group are answered
    by one call that sends the context once. Saved: the context's tokens for every
    call of a group but one, less the instruction the grouped call adds.

    Args:
        wait_s: how long a group waits for more (``grouping.max_wait_ms``; default 0.05).
        max_size: calls per group (``grouping.max_size``; default 8).
        min_context_chars: shorter contexts are not grouped (default 2000).
    """

    name = "shared_context"
    title = "Shared-context grouping"

    def __init__(
        self, *, wait_s: float = 0.05, max_size: int = 8, min_context_chars: int = 2000
    ) -> None:
        self.wait_s = wait_s
        self.max_size = max_size
        self.min_context_chars = min_context_chars

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        from tokenomy.serve.grouping import INSTRUCTION, question_of

        def question(messages: Any, tools: Any) -> tuple[Any, str]:
            q = question_of({"messages": list(messages or ()), "tools": tools}, "messages")
            return q, "" if q is None else repr(q.context)

        question_memo = context.memo("shared_context_question", question)
        open_groups: dict[tuple[str, str, str], tuple[float, int]] = {}  # context -> (at, size)
        affected = saved_tokens = 0
        cost = 0.0
        for c in _ordered(context.calls):
            call = c.call
            q, context_key = question_memo(call.messages, call.tools)
            if q is None or q.context_chars < self.min_context_chars:
                continue
            key = (call.tags.get("tenant", ""), call.model, context_key)
            now = call.timestamp or 0.0
            first, size = open_groups.get(key, (None, 0))
            if first is None or now - first > self.wait_s or size >= self.max_size:
                open_groups[key] = (now, 1)
                continue
            open_groups[key] = (first, size + 1)
            counter = context.counter(call.model)
            tokens = counter.count_messages(q.context)
            extra = counter.count(f"[{size + 1}] ") + (
                counter.count(INSTRUCTION) if size == 1 else 0
            )
            gain = max(0, tokens - extra)
            price = context.prices.get(call.model)
            affected += 1
            saved_tokens += gain
            cost += gain * price.input / 1e6 if price is not None else 0.0
        findings = (
            f"{affected} of {len(context.calls)} calls carry the same context (>= "
            f"{self.min_context_chars:,} characters before the question) as a call of the same "
            f"model made less than {self.wait_s * 1000:.0f} ms before: grouped, the context "
            "is sent once (the gateway's grouping.*; off by default).",
        )
        return SavingsEstimate(self.name, self.title, affected, saved_tokens, 0, cost, findings)


GATEWAY_PLUGINS: Final[dict[str, Callable[[], AuditPlugin]]] = {
    DedupWindowPlugin.name: DedupWindowPlugin,
    BatchApiPlugin.name: BatchApiPlugin,
    PrefixLayoutPlugin.name: PrefixLayoutPlugin,
    SharedContextPlugin.name: SharedContextPlugin,
}
