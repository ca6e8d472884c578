"""A 30-day spend forecast with an interval, and the alert when a monthly limit will
run out early.

The model is deliberately simple, and documented so its errors can be read:

- **level**: the mean daily spend over the last ``window_days`` full days (default
  28; fewer if the ledger is younger).
- **weekly profile**: with at least two full weeks of history, each day of the
  week gets a factor (its mean over the mean of all days); with less, every day
  gets 1 (a flat week: the model cannot know a weekend it has not seen).
- **forecast**: level x factor for each coming day, summed over the horizon.
- **interval**: from the spread ``s`` of the daily totals around that profile: a
  horizon of ``H`` days has variance ``H s^2`` (day-to-day noise) ``+ (H s)^2 / n``
  (the error of a level estimated from ``n`` days); the bounds are the forecast
  ``+- z`` standard deviations (``z`` = 1.645 for 90%), never below 0.

There is no trend term: a growing app is under-forecast by its growth over the
horizon. ``docs/budgets.md`` reports the backtest on the sample workload.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tokenomy.budget.alerts import Alert, Alerts
from tokenomy.budget.series import DAY_S, spend_by
from tokenomy.errors import ConfigError

__all__ = ["DEFAULT_HORIZON_DAYS", "SpendForecast", "forecast_alert", "forecast_spend"]

DEFAULT_HORIZON_DAYS = 30
"""Days a forecast covers (the seed's FORECAST_HORIZON_DAYS)."""

_Z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.9600, 0.99: 2.5758}


@dataclass(frozen=True)
class SpendForecast:
    """Expected spend over the days after ``start``, with an interval.

    Attributes:
        start: epoch seconds (UTC midnight) of the first forecast day (``now``'s).
        daily_usd: the expected spend of each coming day.
        total_usd: their sum.
        low_usd: lower bound of the interval (>= 0).
        high_usd: upper bound.
        level: the interval's coverage, e.g. 0.9.
        history_days: full days of history the model was fitted on.
        weekly: whether a day-of-week profile was used.
    """

    start: float
    daily_usd: tuple[float, ...]
    total_usd: float
    low_usd: float
    high_usd: float
    level: float
    history_days: int
    weekly: bool

    @property
    def horizon_days(self) -> int:
        return len(self.daily_usd)

    def runs_out(self, remaining_usd: float) -> float | None:
        """Epoch seconds (UTC midnight after the day) when the cumulative expected
        spend reaches ``remaining_usd``, or None within the horizon."""
        total = 0.0
        for i, usd in enumerate(self.daily_usd):
            total += usd
            if total >= remaining_usd - 1e-9:
                return self.start + (i + 1) * DAY_S
        return None

    def __str__(self) -> str:
        return (
            f"${self.total_usd:.2f} expected over the next {self.horizon_days} days "
            f"({self.level:.0%} interval ${self.low_usd:.2f}-${self.high_usd:.2f}; fitted on "
            f"{self.history_days} days{', weekly profile' if self.weekly else ''})"
        )


def forecast_spend(
    spend: Iterable[Any],
    *,
    now: float,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    window_days: int = 28,
    level: float = 0.9,
) -> SpendForecast:
    """Forecast the spend of the ``horizon_days`` days from ``now``'s day on.

    Args:
        spend: ``(timestamp, usd)`` pairs or ledger records (``ledger.records()``).
        now: epoch seconds; full days before its day are the history, and its day
            is the first forecast day (counted whole: what it has spent so far is
            not subtracted).
        horizon_days: days to forecast (default 30).
        window_days: full days of history to fit on, at most (default 28).
        level: the interval's coverage: 0.8, 0.9, 0.95 or 0.99 (default 0.9).

    Raises:
        ConfigError: bad options, or no full day of spend before ``now``.

    Example:
        >>> days = [(d * 86400 + 3600, 10.0 + (d % 2)) for d in range(14)]  # $10, $11, ...
        >>> f = forecast_spend(days, now=14 * 86400, horizon_days=30)
        >>> round(f.total_usd, 2), f.low_usd < f.total_usd < f.high_usd
        (315.0, True)
    """
    if horizon_days < 1 or window_days < 1:
        raise ConfigError(
            f"horizon_days and window_days must be >= 1; got {horizon_days!r}, {window_days!r}."
        )
    if level not in _Z:
        raise ConfigError(f"level must be one of {sorted(_Z)}; got {level!r}.")
    today = math.floor(now / DAY_S)
    by_day = spend_by(spend, DAY_S)
    days = [d for d in by_day if d < today]
    if not days:
        raise ConfigError(
            "forecast_spend needs at least one full day of spend before `now`; "
            f"got {len(by_day)} day(s), none before {dt.date.fromtimestamp(today * DAY_S)}."
        )
    first = max(min(days), today - window_days)
    history = [(d, by_day.get(d, 0.0)) for d in range(first, today)]
    n = len(history)
    mean = statistics.fmean(usd for _, usd in history)
    factors = _weekly_factors(history, mean) if n >= 14 else None
    expected = [(d, usd, mean * (factors[_weekday(d)] if factors else 1.0)) for d, usd in history]
    spread = statistics.stdev([usd - fit for _, usd, fit in expected]) if n >= 2 else mean
    coming = tuple(
        mean * (factors[_weekday(d)] if factors else 1.0)
        for d in range(today, today + horizon_days)
    )
    total = sum(coming)
    sd = math.sqrt(horizon_days * spread**2 + (horizon_days * spread) ** 2 / n)
    z = _Z[level]
    return SpendForecast(
        today * DAY_S,
        coming,
        total,
        max(0.0, total - z * sd),
        total + z * sd,
        level,
        n,
        factors is not None,
    )


def forecast_alert(
    forecast: SpendForecast,
    *,
    limit_usd: float,
    spent_usd: float,
    now: float,
    alerts: Alerts | None = None,
    name: str = "monthly",
) -> Alert | None:
    """The alert "at this rate the monthly limit runs out on <date>", if the
    forecast passes ``limit_usd - spent_usd`` before the calendar month ends.

    Sent to ``alerts`` (once per month and limit) when given; returned either way.
    """
    when = forecast.runs_out(max(0.0, limit_usd - spent_usd))
    day = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    month_end = calendar.timegm((day.year + day.month // 12, day.month % 12 + 1, 1, 0, 0, 0))
    if when is None or when > month_end:
        return None
    out_on = dt.datetime.fromtimestamp(when - DAY_S, dt.timezone.utc).strftime("%Y-%m-%d")
    alert = Alert(
        "forecast",
        f"at this rate the ${limit_usd:,.2f} {name} limit runs out on {out_on} "
        f"(${spent_usd:,.2f} spent; about ${statistics.fmean(forecast.daily_usd):,.2f}/day "
        "expected)",
        f"forecast|{name}|{day.year}-{day.month:02d}",
        limit=name,
        spent_usd=spent_usd,
        limit_usd=limit_usd,
        at=now,
        details={"runs_out": out_on, "forecast_total_usd": forecast.total_usd},
    )
    if alerts is not None:
        alerts.emit(alert)
    return alert


def _weekday(day: int) -> int:
    return (day + 3) % 7  # 1970-01-01 was a Thursday: Monday is 0


def _weekly_factors(history: list[tuple[int, float]], mean: float) -> dict[int, float]:
    if mean <= 0:
        return dict.fromkeys(range(7), 1.0)
    by_weekday: dict[int, list[float]] = {w: [] for w in range(7)}
    for d, usd in history:
        by_weekday[_weekday(d)].append(usd)
    return {w: (statistics.fmean(v) / mean if v else 1.0) for w, v in by_weekday.items()}
