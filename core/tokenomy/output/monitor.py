"""Watching an answer as it streams, and stopping it when it is done or going nowhere.

A :class:`StreamMonitor` is fed the text of each chunk and asks its criteria, in
order, whether to stop. A criterion returns a :class:`Stop`: its name, why, and how
much of the text so far is the usable answer (a loop's repeats, the chatter after a
closed JSON object and a stop pattern are left out). The caller then closes the
provider's stream, so the provider stops generating.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from tokenomy.errors import ConfigError
from tokenomy.output.boundary import CutAt, check_complete, cut_at_boundary, json_value_end

__all__ = [
    "DEFAULT_LOOP_SPAN",
    "BaseCriterion",
    "JsonComplete",
    "LengthBudget",
    "MonitorResult",
    "RepetitionLoop",
    "Stop",
    "StopPatterns",
    "StreamMonitor",
    "Validator",
]

DEFAULT_LOOP_SPAN: Final = 48
"""Units (words and punctuation marks) that must repeat before a loop is called."""
DEFAULT_SHORT_SPAN: Final = 24
"""The same, for a repeated unit of at most ``DEFAULT_SHORT_PERIOD`` units."""
DEFAULT_SHORT_PERIOD: Final = 40
DEFAULT_MAX_PERIOD: Final = 300
_UNIT = re.compile(r"\w+|[^\w\s]")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Stop:
    """A criterion's decision to stop the stream.

    Attributes:
        criterion: the criterion's name (``"loop"``, ``"json"``, ``"stop"``,
            ``"budget"``, ``"validator"``).
        detail: one line on why.
        keep_chars: length of the usable prefix of the text streamed so far.
    """

    criterion: str
    detail: str
    keep_chars: int


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What a monitored stream produced.

    Attributes:
        text: everything streamed (what was generated and paid for).
        kept: the usable answer (``text`` unless a stop left a tail out).
        stopped_by: the criterion that stopped it, or None (it ran to its end).
        detail: why it stopped.
        generated_tokens: tokens of ``text``.
        saved_tokens: tokens not generated, estimated against the cap
            (0 without a cap, or when nothing stopped it).
    """

    text: str
    kept: str
    stopped_by: str | None
    detail: str
    generated_tokens: int
    saved_tokens: int


class BaseCriterion(ABC):
    """A reason to stop a stream. :meth:`check` validates, then calls :meth:`_check`.

    A criterion may keep state across calls; :meth:`fresh` returns an unused copy,
    so one configured criterion serves many streams.
    """

    name: str = "criterion"

    def check(self, text: str, tokens: int) -> Stop | None:
        """Whether to stop, given the whole ``text`` so far and its ``tokens``."""
        if not text:
            return None
        return self._check(text, tokens)

    @abstractmethod
    def _check(self, text: str, tokens: int) -> Stop | None: ...

    def fresh(self) -> BaseCriterion:
        """An unused copy for a new stream (stateless criteria return ``self``)."""
        return self


class RepetitionLoop(BaseCriterion):
    """Stops a stream that repeats itself: the last ``span`` units (words and
    punctuation, digits folded so "1." matches "2.") each equal the unit ``p``
    before, for some period ``p`` up to ``max_period``. The answer is kept up to
    where the repetition began.

    Args:
        span: repeated units needed (default 48, about 50 tokens: inside 64 tokens of
            the loop's start; chosen on SmolLM2 answers, see docs/output.md).
        short_span: repeated units needed when the period is at most
            ``short_period`` units (default 24 and 40): a short phrase repeated back
            to back is a loop sooner.
        max_period: the longest repeated unit looked for, in units (default 300).
    """

    name = "loop"

    def __init__(
        self,
        *,
        span: int = DEFAULT_LOOP_SPAN,
        short_span: int = DEFAULT_SHORT_SPAN,
        short_period: int = DEFAULT_SHORT_PERIOD,
        max_period: int = DEFAULT_MAX_PERIOD,
    ):
        if min(span, short_span) < 4:
            raise ConfigError(
                f"span and short_span must be >= 4 units; got {span!r}, {short_span!r}."
            )
        if max_period < 1 or short_period < 0:
            raise ConfigError(
                f"max_period must be >= 1 and short_period >= 0; got {max_period!r}, "
                f"{short_period!r}."
            )
        self.span = span
        self.short_span = short_span
        self.short_period = short_period
        self.max_period = max_period
        self._units: list[str] = []
        self._starts: list[int] = []
        self._runs: dict[int, int] = {}  # period -> units in a row equal to the one p before
        self._where: dict[str, deque[int]] = {}  # unit -> its indexes in the last max_period
        self._seen = 0  # characters of the text already split into units

    def fresh(self) -> RepetitionLoop:
        return RepetitionLoop(
            span=self.span,
            short_span=self.short_span,
            short_period=self.short_period,
            max_period=self.max_period,
        )

    def _check(self, text: str, tokens: int) -> Stop | None:
        # units of the new text only; the last partial word is re-read next time
        tail_from = self._seen
        for m in _UNIT.finditer(text, tail_from):
            if m.end() == len(text) and m.group(0)[-1:].isalnum():
                break  # may still grow
            found = self._add(_DIGITS.sub("0", m.group(0).lower()), m.start())
            self._seen = m.end()
            if found is not None:
                period, start = found
                keep = self._starts[start]
                while keep < len(text) and text[keep] in ".!?,;:)]":
                    keep += 1  # the first copy's closing mark is part of it
                keep = len(text[:keep].rstrip())
                return Stop(self.name, f"a span of {period} units repeats", keep)
        return None

    def _add(self, unit: str, start: int) -> tuple[int, int] | None:
        """Add a unit; the (period, first repeated unit) of a loop it completes.

        Only periods at which the same unit occurred before can continue a run (all
        others reset to 0), so the work per unit is the unit's recent occurrences,
        not ``max_period``.
        """
        i = len(self._units)
        self._units.append(unit)
        self._starts.append(start)
        seen = self._where.setdefault(unit, deque())
        while seen and i - seen[0] > self.max_period:
            seen.popleft()
        old = self._runs
        runs = {i - j: old.get(i - j, 0) + 1 for j in seen}
        self._runs = runs
        seen.append(i)
        found = None
        for p, run in runs.items():
            need = self.short_span if p <= self.short_period else self.span
            if run >= need and (found is None or p < found[0]):
                found = p, i + 1 - run
        return found


class StopPatterns(BaseCriterion):
    """Stops at the first match of any pattern; the answer is kept before it.

    Args:
        patterns: regular expressions (``re.escape`` a literal) or compiled patterns.
    """

    name = "stop"

    def __init__(self, patterns: Iterable[str | re.Pattern[str]]) -> None:
        self.patterns = [re.compile(p) if isinstance(p, str) else p for p in patterns]
        if not self.patterns:
            raise ConfigError("StopPatterns needs at least one pattern.")

    def _check(self, text: str, tokens: int) -> Stop | None:
        hits = [(m.start(), p.pattern) for p in self.patterns if (m := p.search(text))]
        if not hits:
            return None
        at, pattern = min(hits)
        return Stop(self.name, f"matched {pattern!r}", len(text[:at].rstrip()))


class JsonComplete(BaseCriterion):
    """Stops when an answer that opens with a JSON object or array (optionally in a
    ```json fence) has closed it and the value parses; what follows is left out."""

    name = "json"

    def _check(self, text: str, tokens: int) -> Stop | None:
        body = text.lstrip()
        offset = len(text) - len(body)
        fenced = body.startswith("```")
        if fenced:
            newline = body.find("\n")
            if newline < 0:
                return None
            offset += newline + 1
            body = body[newline + 1 :].lstrip()
            offset = len(text) - len(body)
        if body[:1] not in ("{", "["):
            return None
        end = json_value_end(body, 0)
        if end is None:
            return None
        try:
            json.loads(body[:end])
        except ValueError:
            return None
        keep = offset + end
        if fenced:
            close = text.find("```", keep)
            if close < 0:
                return None  # wait for the fence to close (a token or two)
            keep = close + 3
        return Stop(self.name, "the JSON value is complete", keep)


class LengthBudget(BaseCriterion):
    """Stops once the answer reaches ``max_tokens``, keeping it up to the last boundary
    that fits (so it ends at a sentence, not mid-word, and is never longer).

    Args:
        max_tokens: the answer's budget in tokens.
        cut_at: ``"sentence"`` (default) or ``"paragraph"``.
        count: counts tokens (the monitor's counter is used to measure the cut).
    """

    name = "budget"

    def __init__(
        self,
        max_tokens: int,
        *,
        cut_at: CutAt = "sentence",
        count: Callable[[str], int] | None = None,
    ) -> None:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1; got {max_tokens!r}.")
        self.max_tokens = max_tokens
        self.cut_at = cut_at
        self.count = count

    def _check(self, text: str, tokens: int) -> Stop | None:
        if tokens < self.max_tokens:
            return None
        measure = self.count or default_count()
        limit = self.max_tokens if check_complete(text).complete else measure(text) - 1
        cut = cut_at_boundary(text, min(limit, self.max_tokens), count=measure, cut_at=self.cut_at)
        return Stop(
            self.name, f"reached {self.max_tokens} tokens; cut at {cut.kind}", len(cut.text)
        )


class Validator(BaseCriterion):
    """Stops when the caller's ``accept(text)`` says the answer is enough. It is asked
    only when the text so far ends a sentence, a line or a JSON value."""

    name = "validator"

    def __init__(self, accept: Callable[[str], bool]) -> None:
        if not callable(accept):
            raise ConfigError(f"Validator needs a callable str -> bool; got {accept!r}.")
        self.accept = accept

    def _check(self, text: str, tokens: int) -> Stop | None:
        if text.rstrip()[-1:] not in (".", "!", "?", "}", "]", "\n") and not text.endswith("\n"):
            return None
        if self.accept(text):
            return Stop(self.name, "the caller's validator accepted the answer", len(text.rstrip()))
        return None


class StreamMonitor:
    """Feeds a stream's text to criteria and says when to stop.

    Args:
        criteria: checked in order after each chunk; the first :class:`Stop` wins.
        count: counts tokens (default: the default model's tokenizer).
        cap: the answer's ``max_tokens``, against which saved tokens are estimated.

    Example:
        >>> monitor = StreamMonitor([StopPatterns(["DONE"])], count=lambda s: len(s.split()))
        >>> [monitor.feed(c) for c in ["The answer ", "is 4. DONE ", "and more"]][:2]
        [None, Stop(criterion='stop', detail="matched 'DONE'", keep_chars=16)]
        >>> monitor.result().kept
        'The answer is 4.'
    """

    def __init__(
        self,
        criteria: Sequence[BaseCriterion],
        *,
        count: Callable[[str], int] | None = None,
        cap: int | None = None,
    ) -> None:
        self.criteria = [c.fresh() for c in criteria]
        self.count = count or default_count()
        self.cap = cap
        self._parts: list[str] = []
        self._text = ""
        self._tokens = 0
        self.stop: Stop | None = None

    def feed(self, delta: str) -> Stop | None:
        """Add one chunk's text; the :class:`Stop` when the stream should end (then
        and after, always the same one)."""
        if self.stop is not None or not delta:
            return self.stop
        self._parts.append(delta)
        self._text += delta
        self._tokens += self.count(delta)
        for criterion in self.criteria:
            stop = criterion.check(self._text, self._tokens)
            if stop is not None:
                self.stop = stop
                break
        return self.stop

    @property
    def text(self) -> str:
        return self._text

    def result(self) -> MonitorResult:
        """The stream's outcome so far."""
        stop = self.stop
        kept = self._text if stop is None else self._text[: stop.keep_chars]
        saved = 0
        if stop is not None and self.cap is not None:
            saved = max(0, self.cap - self._tokens)
        return MonitorResult(
            text=self._text,
            kept=kept,
            stopped_by=stop.criterion if stop else None,
            detail=stop.detail if stop else "",
            generated_tokens=self._tokens,
            saved_tokens=saved,
        )


def default_count() -> Callable[[str], int]:
    """The default model's token count (the tokenizer loads on first use)."""
    from tokenomy.tokens.counter import TokenCounter

    return TokenCounter().count
