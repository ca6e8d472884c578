"""The compression column of ``tokenomy audit``: long context in prompts, compressed.

Every user or tool message of at least ``min_tokens`` tokens (retrieved
documents, pasted files) is a candidate. The compressor runs, with the message's
trailing question as the query, on an even sample of the candidates; the kept
share it measures there is applied to the rest, so the audit stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tokenomy.audit.plugins import AuditContext, AuditedCall, CallSavings, SavingsEstimate
from tokenomy.compress import (
    DEFAULT_MIN_TOKENS,
    DEFAULT_RATIO,
    ExtractiveCompressor,
    compress_message,
)
from tokenomy.text.messages import message_text
from tokenomy.tokens.usage import TokenUsage

__all__ = ["CompressionAuditPlugin"]

_ROLES = ("user", "tool")


class CompressionAuditPlugin:
    """What compressing long context messages to ``ratio`` would save.

    Args:
        ratio: share of each long message kept (default 0.4, ``compression.ratio``).
        min_tokens: messages shorter than this are left alone (default 800,
            ``compression.min_tokens``).
        sample: messages actually compressed to measure the kept share (default 24).
        compressor: the compressor (default: gpt-4o tokenizer, the bundled MiniLM).
    """

    name = "compression"
    title = "Context compression"

    def __init__(
        self,
        *,
        ratio: float = DEFAULT_RATIO,
        min_tokens: int = DEFAULT_MIN_TOKENS,
        sample: int = 24,
        compressor: ExtractiveCompressor | None = None,
    ) -> None:
        self.ratio = ratio
        self.min_tokens = min_tokens
        self.sample = sample
        self._compressor = compressor

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        found = [
            (c, text, context.counter(c.call.model).count(text))
            for c in context.calls
            for text in _long_texts(c, context, self.min_tokens)
        ]
        if not found:
            return SavingsEstimate(
                self.name,
                self.title,
                0,
                0,
                0,
                0.0,
                (f"No prompt carries a user or tool message of {self.min_tokens}+ tokens.",),
                per_call=CallSavings(),
            )
        kept_share, retention, share_se = self._measure(found)
        saved: dict[int, int] = {}
        calls: dict[int, AuditedCall] = {}
        for c, _, tokens in found:
            calls[id(c)] = c
            saved[id(c)] = saved.get(id(c), 0) + round(tokens * (1 - kept_share))
        per_call = CallSavings()
        for k, c in calls.items():
            dollars = context.cost(c.call.model, TokenUsage(input_tokens=saved[k])) or 0.0
            per_call.add(c, input_tokens=saved[k], cost_usd=dollars)
        cost = sum(c for *_, c in per_call)
        total = sum(t for _, _, t in found)
        findings = (
            f"{len(calls)} calls carry {len(found)} long messages ({total:,} tokens of "
            f"context); compressed to {self.ratio:.0%}, the question always kept.",
            f"Measured on {min(self.sample, len(found))} of them: {kept_share:.1%} of the "
            f"tokens kept, retention estimate {retention:.0%}; applied to the rest.",
        )
        return SavingsEstimate(
            self.name,
            self.title,
            len(calls),
            sum(saved.values()),
            0,
            cost,
            findings,
            {
                "kept_share": round(kept_share, 4),
                "retention": round(retention, 4),
                # the kept share is measured on a few messages: its error, in dollars
                "measurement_se_usd": cost * share_se / (1 - kept_share) if kept_share < 1 else 0.0,
            },
            per_call=per_call,
        )

    def _measure(self, found: list[tuple[AuditedCall, str, int]]) -> tuple[float, float, float]:
        """Kept share of tokens, mean retention, and the kept share's standard error (a
        ratio estimate: 0 when every message was measured) on an even sample."""
        compressor = self._compressor or ExtractiveCompressor()
        step = max(1, len(found) // self.sample)
        pairs: list[tuple[int, int]] = []
        retention: list[float] = []
        for _, text, tokens in found[::step][: self.sample]:
            result = compress_message(compressor, text, ratio=self.ratio)
            pairs.append((tokens, result.compressed_tokens if result else tokens))
            retention.append(result.retention if result else 1.0)
        original, kept = sum(o for o, _ in pairs), sum(k for _, k in pairs)
        share, m = kept / original, len(pairs)
        se = 0.0
        if 1 < m < len(found):
            residuals = sum((k - share * o) ** 2 for o, k in pairs) / (m - 1)
            se = math.sqrt(residuals / m * (1 - m / len(found))) / (original / m)
        return share, sum(retention) / len(retention), se


def _long_texts(c: AuditedCall, context: AuditContext, min_tokens: int) -> list[str]:
    counter = context.counter(c.call.model)
    if c.call.prompt is not None:
        messages: list[Mapping[str, Any]] = [{"role": "user", "content": c.call.prompt}]
    else:
        messages = list(c.call.messages or ())
    out = []
    for m in messages:
        text = message_text(m) if m.get("role") in _ROLES else ""
        if text and counter.count(text) >= min_tokens:
            out.append(text)
    return out
