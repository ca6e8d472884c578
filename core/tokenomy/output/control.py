"""``OutputControl``: the response-length options a front door hands the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from tokenomy.errors import ConfigError, UnknownNameError
from tokenomy.output.boundary import CUT_AT
from tokenomy.output.monitor import (
    DEFAULT_LOOP_SPAN,
    BaseCriterion,
    JsonComplete,
    LengthBudget,
    RepetitionLoop,
    StopPatterns,
    StreamMonitor,
    Validator,
    default_count,
)
from tokenomy.output.planner import OutputPlanner, wants_json

__all__ = ["CRITERIA", "DEFAULT_STOP_ON", "CutAtSetting", "OutputControl"]

CutAtSetting = Literal["sentence", "paragraph", "none"]
DEFAULT_STOP_ON: Final = ("loop", "json")


def _loop(control: OutputControl, cap: int | None, count: Callable[[str], int]) -> BaseCriterion:
    return RepetitionLoop(span=control.loop_span)


def _json(control: OutputControl, cap: int | None, count: Callable[[str], int]) -> BaseCriterion:
    return JsonComplete()


def _stop(
    control: OutputControl, cap: int | None, count: Callable[[str], int]
) -> BaseCriterion | None:
    return StopPatterns(control.stop_patterns) if control.stop_patterns else None


def _budget(
    control: OutputControl, cap: int | None, count: Callable[[str], int]
) -> BaseCriterion | None:
    tokens = control.budget_tokens or cap
    if tokens is None:
        return None
    cut_at = "sentence" if control.cut_at == "none" else control.cut_at
    return LengthBudget(tokens, cut_at=cut_at, count=count)


def _validator(
    control: OutputControl, cap: int | None, count: Callable[[str], int]
) -> BaseCriterion | None:
    return Validator(control.validator) if control.validator is not None else None


CRITERIA: Final[
    dict[str, Callable[[OutputControl, int | None, Callable[[str], int]], BaseCriterion | None]]
] = {
    "loop": _loop,
    "json": _json,
    "stop": _stop,
    "budget": _budget,
    "validator": _validator,
}
"""Stream-monitor criteria by ``stop_on`` name."""


@dataclass(frozen=True, kw_only=True)
class OutputControl:
    """Response-length control for the pipeline's output stage.

    Attributes:
        planner: plans ``max_tokens`` from learned answer lengths (default None).
        max_tokens: the cap sent when the caller set none and the planner has no
            plan for the call (default None: no cap added).
        stop_on: stream-monitor criteria by name, checked in order: ``"loop"``
            (repeated spans), ``"json"`` (the JSON value closed), ``"stop"``
            (``stop_patterns``), ``"budget"`` (``budget_tokens``, else the cap,
            reached: cut at a boundary), ``"validator"`` (``validator(text)``
            returned True). Default ``("loop", "json")``; ``()`` turns the monitor off.
        stop_patterns: regular expressions for ``"stop"``.
        validator: the caller's ``str -> bool`` for ``"validator"``.
        budget_tokens: the budget of ``"budget"`` (default: the call's cap).
        cut_at: where an answer cut by its cap is cut back to when it cannot be
            continued: ``"sentence"`` (default), ``"paragraph"`` or ``"none"``.
        continue_max: how many times to ask the model to continue an answer cut by
            its cap (``finish_reason == "length"``) before returning it flagged as
            truncated (default 0: flag it at once).
        loop_span: units that must repeat before ``"loop"`` stops (default 48).
        monitor_replays: run cached answers replayed as streams through the
            monitor too (default True).

    Example:
        >>> control = OutputControl(max_tokens=300, stop_on=("loop", "stop"),
        ...                         stop_patterns=("<END>",))
        >>> monitor = control.monitor(cap=300, count=lambda s: len(s.split()))
        >>> [monitor.feed(c) is not None for c in ["Fine. ", "<END> more"]]
        [False, True]
    """

    planner: OutputPlanner | None = None
    max_tokens: int | None = None
    stop_on: tuple[str, ...] = DEFAULT_STOP_ON
    stop_patterns: tuple[str, ...] = ()
    validator: Callable[[str], bool] | None = None
    budget_tokens: int | None = None
    cut_at: CutAtSetting = "sentence"
    continue_max: int = 0
    loop_span: int = DEFAULT_LOOP_SPAN
    monitor_replays: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop_on", tuple(self.stop_on))
        object.__setattr__(self, "stop_patterns", tuple(self.stop_patterns))
        unknown = [n for n in self.stop_on if n not in CRITERIA]
        if unknown:
            raise UnknownNameError(
                f"unknown stop_on criteria {unknown}; valid: {', '.join(CRITERIA)}."
            )
        if "stop" in self.stop_on and not self.stop_patterns:
            raise ConfigError("stop_on has 'stop' but stop_patterns is empty; give patterns.")
        if "validator" in self.stop_on and self.validator is None:
            raise ConfigError("stop_on has 'validator' but no validator=callable was given.")
        for name in ("max_tokens", "budget_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 or None; got {value!r}.")
        if self.cut_at not in (*CUT_AT, "none"):
            raise ConfigError(
                f"cut_at must be 'sentence', 'paragraph' or 'none'; got {self.cut_at!r}."
            )
        if self.continue_max < 0:
            raise ConfigError(f"continue_max must be >= 0; got {self.continue_max!r}.")
        if self.loop_span < 4:
            raise ConfigError(f"loop_span must be >= 4; got {self.loop_span!r}.")

    def plan(self, sent: Any) -> int | None:
        """The cap to send (the pipeline's ``OutputPlanner`` protocol): the
        planner's, else ``max_tokens`` when the caller set none; None leaves it."""
        if self.planner is not None:
            planned = self.planner.plan(sent)
            if planned is not None:
                return planned
        if self.max_tokens is not None and sent.request.max_tokens is None:
            floor = self.planner.floor if self.planner is not None else OutputPlanner().floor
            request = sent.request
            return max(self.max_tokens, floor(tools=bool(request.tools), json=wants_json(request)))
        return None

    def loop_in(self, text: str) -> int | None:
        """Where the repetition loop of a finished ``text`` begins (the usable prefix's
        length, as the ``"loop"`` criterion keeps it), or None: no loop, or ``"loop"``
        not in ``stop_on``. Used on an answer being continued, which is not continued
        once it loops."""
        if "loop" not in self.stop_on:
            return None
        stop = _loop(self, None, len).check(text, 0)
        return None if stop is None else stop.keep_chars

    def monitor(
        self, *, cap: int | None, count: Callable[[str], int] | None = None
    ) -> StreamMonitor | None:
        """A fresh monitor for one stream, or None when no criterion applies."""
        measure = count or default_count()
        criteria = [c for n in self.stop_on if (c := CRITERIA[n](self, cap, measure)) is not None]
        return StreamMonitor(criteria, count=measure, cap=cap) if criteria else None
