"""The "response length" column of ``tokenomy audit``, measured on the workload's own
answers: caps far above use, answers that loop, JSON answers that talk on after the
object closed.

Per call, the tokens saved are the largest of three (they overlap, so they are not
added): the answer's tokens after a repetition loop began (the stream monitor would
have stopped there), after its JSON value closed, or beyond its group's 95th
percentile (a cap planned there).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from functools import lru_cache
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tokenomy.audit.plugins import AuditContext, AuditedCall, CallSavings, SavingsEstimate
from tokenomy.output import JsonComplete, RepetitionLoop, StreamMonitor
from tokenomy.output.monitor import _DIGITS, _UNIT
from tokenomy.tokens.usage import TokenUsage

__all__ = ["ResponseLengthPlugin"]

_MIN_GROUP_CALLS: Final = 20
_CAP_PERCENTILE: Final = 0.95


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _tail(text: str, criterion: RepetitionLoop | JsonComplete) -> str | None:
    """The part of ``text`` after the criterion would have stopped it, or None."""
    monitor = StreamMonitor([criterion], count=len)
    monitor.feed(text)
    if monitor.stop is None:
        return None
    return text[monitor.stop.keep_chars :] or None


def may_loop(text: str, loop: RepetitionLoop) -> bool:
    """False when ``text`` cannot hold a loop ``loop`` would call; a cheap test run
    before the stream monitor, which costs ~1 ms per answer on its own.

    A loop is a run of at least ``min(span, short_span)`` units each equal to the unit
    ``p`` before (units as the monitor reads them: lower-cased, digits folded), so the
    window of that many units where the run starts equals the window ``p`` units
    earlier. A text whose windows are all different holds no loop: the test is a
    necessary condition, so skipping the monitor on False never changes a result.

    Example:
        >>> may_loop("Paris is the capital of France.", RepetitionLoop())
        False
        >>> may_loop("and then " * 40, RepetitionLoop())
        True
    """
    width = min(loop.span, loop.short_span)
    if text.isascii():  # folding the whole text splits it into the same units
        units = _UNIT.findall(_DIGITS.sub("0", text.lower()))
    elif "\x00" not in text:  # folded unit by unit, in one call each
        units = _DIGITS.sub("0", "\x00".join(_UNIT.findall(text)).lower()).split("\x00")
    else:
        units = [_DIGITS.sub("0", u.lower()) for u in _UNIT.findall(text)]
    if len(units) <= width:
        return False
    # each window of units hashed (equal windows, equal hashes; a collision only
    # sends the text on to the monitor)
    codes = np.fromiter(map(hash, units), dtype=np.int64, count=len(units)).view(np.uint64)
    windows = sliding_window_view(codes, width) @ _powers(width)
    return bool(np.unique(windows).size < windows.size)


@lru_cache(maxsize=4)
def _powers(width: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per place in a window."""
    rng = np.random.default_rng(width)
    return rng.integers(0, 2**63, size=width, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _tails(text: str) -> tuple[str | None, str | None]:
    """The tails of ``text`` after a repetition loop began and after its JSON closed."""
    loop = RepetitionLoop()
    return (_tail(text, loop) if may_loop(text, loop) else None), _tail(text, JsonComplete())


class ResponseLengthPlugin:
    """Answer tokens a response-length control would not have paid for.

    * **caps**: per feature tag (or model) with at least 20 calls, answers longer
      than the group's p95 would be cut there; ``max_tokens`` caps 4x above that
      p95, or no cap at all, are named.
    * **loops**: answers whose text repeats a span (the stream monitor's
      ``RepetitionLoop``), and the tokens after the loop began.
    * **JSON tails**: answers opening with a JSON value that go on after it closed.
    """

    name = "output_caps"
    title = "Response length"

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        caps = self._caps(context)
        saved = array("q", [0]) * len(context.calls)  # per call: 8 bytes, not a dict entry
        loops = json_tails = loop_tokens = json_tokens = 0
        examples: list[str] = []
        tails = context.memo("response_tails", _tails)  # once per distinct answer
        for i, c in enumerate(context.calls):
            excess = c.usage.output_tokens - caps.get(_group(c), c.usage.output_tokens)
            saved[i] = max(saved[i], excess)
            text = c.call.response or ""
            if not text:
                continue
            count = context.counter(c.call.model).count
            loop, tail = tails(text)
            if loop is not None:
                n = count(loop)
                loops, loop_tokens = loops + 1, loop_tokens + n
                saved[i] = max(saved[i], n)
                if len(examples) < 2:
                    examples.append(f"loop in {c.call.id}: {n:,} tokens after it began")
            if tail is not None and tail.strip():
                n = count(tail)
                json_tails, json_tokens = json_tails + 1, json_tokens + n
                saved[i] = max(saved[i], n)
        affected = out = 0
        cost_usd = 0.0
        per_call = CallSavings()
        for i, n in enumerate(saved):
            if n > 0:
                c = context.calls[i]
                affected += 1
                out += n
                dollars = context.cost(c.call.model, TokenUsage(0, n)) or 0.0
                cost_usd += dollars
                per_call.add(c, output_tokens=n, cost_usd=dollars)
        findings = [
            f"{loops} answers loop (a span repeated back to back): {loop_tokens:,} tokens "
            "after the loop began; the stream monitor stops a loop about 50 tokens in.",
            f"{json_tails} JSON answers go on after the object closed: {json_tokens:,} "
            "tokens of trailing text.",
            *examples,
            *self._cap_findings(context, caps),
        ]
        metrics = {
            "loops": float(loops),
            "loop_tokens": float(loop_tokens),
            "json_trailing": float(json_tails),
            "json_trailing_tokens": float(json_tokens),
        }
        return SavingsEstimate(
            self.name, self.title, affected, 0, out, cost_usd, tuple(findings), metrics, per_call
        )

    @staticmethod
    def _caps(context: AuditContext) -> dict[str, int]:
        groups: dict[str, list[int]] = defaultdict(list)
        for c in context.calls:
            groups[_group(c)].append(c.usage.output_tokens)
        return {
            name: _percentile(lengths, _CAP_PERCENTILE)
            for name, lengths in groups.items()
            if len(lengths) >= _MIN_GROUP_CALLS
        }

    @staticmethod
    def _cap_findings(context: AuditContext, caps: dict[str, int]) -> list[str]:
        findings = []
        for name, cap in sorted(caps.items()):
            asked = [c.call.max_tokens for c in context.calls if _group(c) == name]
            set_caps = [a for a in asked if a]
            if set_caps and min(set_caps) >= 4 * max(cap, 1):
                findings.append(
                    f"{name}: max_tokens is {min(set_caps):,}+ but 95% of answers use <= "
                    f"{cap:,} tokens; the cap is unused headroom."
                )
            elif not set_caps:
                findings.append(f"{name}: no max_tokens set; 95% of answers use <= {cap:,} tokens.")
        return findings


def _group(c: AuditedCall) -> str:
    return c.call.tags.get("feature") or c.call.model
