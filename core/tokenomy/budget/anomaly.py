"""Spend-rate anomalies: an hour that costs far more than that hour usually does.

LLM spend has a daily and a weekly rhythm (office hours, quiet weekends), so an
hour is compared with the same hour of the week in past weeks, or, until three
weeks of history exist, with the same hour of the day in past days. The score is a
robust z-score::

    z = (spend - median) / max(1.4826 * MAD, median / 2, mean hourly spend)

The median and the MAD (median absolute deviation) of the comparable hours ignore
a past spike; the floors keep a quiet hour (median 0) from alerting over a few
cents, and keep a steady hour from alerting over a 2x wobble. An hour with
``z >= threshold`` (default 6; lumpy spend needs more than the textbook 3.5) is an
anomaly. Online, :meth:`SpendAnomalyDetector.observe` scores the current hour as
spend arrives, so a runaway loop alerts within the hour, once.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from tokenomy.budget.alerts import Alert, Alerts
from tokenomy.budget.series import HOUR_S, points
from tokenomy.errors import ConfigError

__all__ = ["DEFAULT_Z_THRESHOLD", "SpendAnomaly", "SpendAnomalyDetector"]

DEFAULT_Z_THRESHOLD = 6.0
"""Robust z-score at which an hour's spend is an anomaly."""

_WEEK_H = 168
_DAY_H = 24
_HISTORY_H = 5 * _WEEK_H  # the baseline looks back five weeks at most


@dataclass(frozen=True, slots=True)
class SpendAnomaly:
    """One hour whose spend is far above the usual for that hour.

    Attributes:
        start: the hour's start, epoch seconds (UTC).
        spend_usd: spent in that hour.
        baseline_usd: the median of the comparable past hours.
        z: the robust z-score.
        basis: ``"hour of week"`` or ``"hour of day"``.
        history: how many past hours the baseline came from.
    """

    start: float
    spend_usd: float
    baseline_usd: float
    z: float
    basis: Literal["hour of week", "hour of day"]
    history: int

    def __str__(self) -> str:
        return (
            f"spend rate anomaly: ${self.spend_usd:.2f} in the hour from "
            f"{_hour(self.start)}, {self.spend_usd / max(self.baseline_usd, 1e-9):.1f}x the "
            f"usual ${self.baseline_usd:.2f} for that {self.basis} (robust z {self.z:.1f})"
        )


class SpendAnomalyDetector:
    """Scores hourly spend against the same hour of the week (or day) in the past.

    Args:
        threshold: robust z-score at which an hour is an anomaly (default 6).
        min_history: comparable past hours needed before an hour is scored
            (default 3: three weeks for the hour of the week, else three days).
        alerts: where anomaly alerts go, each hour once (default None).

    Example:
        >>> detector = SpendAnomalyDetector()
        >>> for day in range(7):  # a steady week: $1 at 10:00 every day
        ...     _ = detector.observe(day * 86400 + 36000, 1.0)
        >>> detector.observe(7 * 86400 + 36000, 1.1) is None
        True
        >>> print(detector.observe(7 * 86400 + 36500, 9.0))
        spend rate anomaly: $10.10 in the hour from 1970-01-08 10:00 UTC, 10.1x the usual $1.00 for that hour of day (robust z 18.2)
    """  # noqa: E501

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_Z_THRESHOLD,
        min_history: int = 3,
        alerts: Alerts | None = None,
    ) -> None:
        if not threshold > 0 or min_history < 1:
            raise ConfigError(
                f"threshold must be > 0 and min_history >= 1; got {threshold!r}, {min_history!r}."
            )
        self.threshold = float(threshold)
        self.min_history = min_history
        self.alerts = alerts
        self._hours: dict[int, float] = {}
        self._lock = threading.Lock()

    def add(self, spend: Iterable[Any]) -> None:
        """Add past spend: ``(timestamp, usd)`` pairs or ledger records."""
        with self._lock:
            for ts, usd in points(spend):
                hour = math.floor(ts / HOUR_S)
                self._hours[hour] = self._hours.get(hour, 0.0) + usd

    def observe(self, timestamp: float, usd: float) -> SpendAnomaly | None:
        """Add one call's spend and score its hour so far; an anomaly alerts once."""
        hour = math.floor(timestamp / HOUR_S)
        with self._lock:
            if hour not in self._hours:  # a new hour: forget what is past the look-back
                for old in [h for h in self._hours if h < hour - _HISTORY_H]:
                    del self._hours[old]
            self._hours[hour] = self._hours.get(hour, 0.0) + max(0.0, usd)
        found = self.score(hour * HOUR_S)
        if found is not None and self.alerts is not None:
            self.alerts.emit(
                Alert(
                    "anomaly",
                    str(found),
                    f"anomaly|{hour}",
                    spent_usd=found.spend_usd,
                    at=timestamp,
                    details={"z": found.z, "baseline_usd": found.baseline_usd},
                )
            )
        return found

    def score(self, start: float) -> SpendAnomaly | None:
        """The anomaly of the hour starting at ``start``, scored against earlier hours
        only, or None (usual spend, or too little history)."""
        hour = math.floor(start / HOUR_S)
        with self._lock:
            if not self._hours or hour <= min(self._hours):
                return None
            first = max(min(self._hours), hour - _HISTORY_H)
            spend = self._hours.get(hour, 0.0)
            past = [self._hours.get(h, 0.0) for h in range(first, hour)]
            week = [self._hours.get(h, 0.0) for h in range(hour - _WEEK_H, first - 1, -_WEEK_H)]
            day = [self._hours.get(h, 0.0) for h in range(hour - _DAY_H, first - 1, -_DAY_H)]
        if len(week) >= self.min_history:
            basis: Literal["hour of week", "hour of day"] = "hour of week"
            usual = week
        elif len(day) >= self.min_history:
            basis, usual = "hour of day", day
        else:
            return None
        median = statistics.median(usual)
        mad = statistics.median(abs(x - median) for x in usual)
        spread = max(1.4826 * mad, median / 2, sum(past) / len(past))
        if spread <= 0:
            return None
        z = (spend - median) / spread
        if z < self.threshold:
            return None
        return SpendAnomaly(hour * HOUR_S, spend, median, z, basis, len(usual))

    def scan(self) -> list[SpendAnomaly]:
        """Every anomalous hour so far, each scored against the hours before it."""
        with self._lock:
            if not self._hours:
                return []
            first, last = min(self._hours), max(self._hours)
        found = (self.score(h * HOUR_S) for h in range(first + 1, last + 1))
        return [a for a in found if a is not None]


def _hour(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
