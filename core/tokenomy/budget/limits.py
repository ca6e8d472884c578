"""What a spend limit covers: which calls, split by which label, over which window.

A :class:`Limit` is pure configuration. For one call it names an :class:`Account`:
the counter the call is charged to (``"user-daily|u1|20394"``), the time bucket its
spend lands in, and the oldest bucket still in the window. Both backends
(:class:`~tokenomy.budget.SpendBudget` in process memory,
:class:`~tokenomy.budget.RedisBudget` shared) keep the same accounts, so a limit
means the same thing in both.

Windows:

- **calendar** (``rolling=False``, the default): the UTC minute, hour, day or month
  the call falls in; spend starts again from zero when the next one begins.
- **rolling** (``rolling=True``): the last 60 seconds, hour, 24 hours or 30 days,
  kept as 60 buckets of 1/60 of the window each, so the window's edge moves one
  bucket at a time (a rolling day forgets spend in 24-minute steps).
- ``"total"``: never resets (the lifetime of the budget; the old ``SpendBudget``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import quote

from tokenomy.errors import ConfigError

__all__ = ["DEFAULT_LOW_SHARE", "ROLLING_BUCKETS", "Account", "Limit", "Window"]

Window = Literal["minute", "hour", "day", "month", "total"]

DEFAULT_LOW_SHARE = 0.2
"""Share of a limit left under which a budget reports "low" (routing gets cheaper)."""

ROLLING_BUCKETS = 60
"""Buckets a rolling window is kept in; its edge moves by one bucket at a time."""

_SECONDS: dict[str, float] = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
_ROLLING_MONTH_S = 30 * 86400.0
_WINDOWS = ("minute", "hour", "day", "month", "total")
_ACTIONS = ("block", "alert")
_ADJECTIVE = {
    "minute": "per-minute",
    "hour": "hourly",
    "day": "daily",
    "month": "monthly",
    "total": "total",
}
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Account:
    """The counter one call is charged to under one limit.

    Attributes:
        key: unique per limit, label value and (calendar windows) period.
        bucket: the time bucket the call's spend is written to.
        live_from: the oldest bucket that still counts (rolling windows).
        expires_at: epoch seconds after which the account can be forgotten.
        resets_at: epoch seconds at which this spend stops counting in full
            (the period's end; for rolling windows, when its oldest bucket leaves).
        value: the label value the limit is split by (``"u1"``), or ``""``.
        tenant: the call's tenant for fair sharing, or ``""``.
    """

    key: str
    bucket: int
    live_from: int
    expires_at: float
    resets_at: float | None
    value: str = ""
    tenant: str = ""


@dataclass(frozen=True)
class Limit:
    """A spend limit in USD over a window, for the calls it covers.

    Args:
        usd: the limit, > 0.
        window: ``"minute"``, ``"hour"``, ``"day"``, ``"month"`` or ``"total"``
            (default; never resets).
        rolling: the last minute/hour/24 h/30 days instead of the calendar one
            (UTC); default False.
        per: split the limit by this label: each ``"user"`` (or ``"feature"``,
            ``"model"``, ``"scope"``, ``"session"``, any tag) gets its own ``usd``.
            A call without the label is not covered. Default None: one limit for
            every call covered.
        where: cover only calls whose labels have these values, e.g.
            ``{"feature": "rag"}`` (default: every call).
        action: ``"block"`` (hard: refuse a call that does not fit) or ``"alert"``
            (soft: never refuse; alerts fire as thresholds are crossed).
        name: names the limit in keys, errors and alerts; default derived from the
            rest (``"user-day"``). Limits of one budget need distinct names.
        low_share: under this share of the limit left the budget reports ``"low"``
            and a router prefers cheaper models (default 0.2).
        fair_by: share the limit between tenants named by this label
            (``"tenant"``, ``"user"``…) by ``weights`` (see ``guaranteed``).
        weights: tenant -> weight; a tenant's share is ``usd * weight / sum``.
            ``"*"`` weighs every unlisted tenant together; without it, unlisted
            tenants only use what the listed ones leave free.
        guaranteed: the part of each listed tenant's share that others can never
            take, in [0, 1] (default 1.0: a flooding tenant can use every share
            that its owner is not using only up to what the owners have left).

    Example:
        >>> Limit(usd=5, window="day", per="user").name
        'user-day'
        >>> Limit(usd=5, window="day", per="user").account({"user": "u1"}, now=86400.5).key
        'user-day|u1|1'
    """

    usd: float
    window: Window = "total"
    rolling: bool = False
    per: str | None = None
    where: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    action: Literal["block", "alert"] = "block"
    name: str = ""
    low_share: float = DEFAULT_LOW_SHARE
    fair_by: str | None = None
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    guaranteed: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.usd, bool) or not isinstance(self.usd, int | float) or not self.usd > 0:
            raise ConfigError(f"Limit.usd must be a number > 0 (USD); got {self.usd!r}.")
        if self.window not in _WINDOWS:
            raise ConfigError(
                f"Limit.window must be one of {', '.join(_WINDOWS)}; got {self.window!r}."
            )
        if self.rolling and self.window == "total":
            raise ConfigError("Limit(window='total') never resets, so it cannot be rolling.")
        if self.action not in _ACTIONS:
            raise ConfigError(
                f"Limit.action must be 'block' (hard) or 'alert' (soft); got {self.action!r}."
            )
        if not 0.0 <= self.low_share < 1.0:
            raise ConfigError(f"Limit.low_share must be in [0, 1); got {self.low_share!r}.")
        if not 0.0 <= self.guaranteed <= 1.0:
            raise ConfigError(f"Limit.guaranteed must be in [0, 1]; got {self.guaranteed!r}.")
        if self.weights and not self.fair_by:
            raise ConfigError(
                "Limit(weights=...) shares the limit between tenants: also pass "
                "fair_by='<label naming the tenant>' (e.g. fair_by='tenant')."
            )
        for tenant, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise ConfigError(f"Limit.weights[{tenant!r}] must be > 0; got {weight!r}.")
        object.__setattr__(self, "usd", float(self.usd))
        object.__setattr__(self, "where", MappingProxyType(dict(self.where)))
        object.__setattr__(
            self, "weights", MappingProxyType({k: float(v) for k, v in self.weights.items()})
        )
        if not self.name:
            parts = [self.per or "all", *(f"{k}={v}" for k, v in sorted(self.where.items()))]
            parts.append(f"{self.window}{'-rolling' if self.rolling else ''}")
            object.__setattr__(self, "name", "-".join(parts))

    # -- which calls, which account -----------------------------------------------------

    def covers(self, labels: Mapping[str, str]) -> bool:
        """Whether a call with ``labels`` counts against this limit."""
        if self.per is not None and not labels.get(self.per):
            return False
        return all(labels.get(k) == v for k, v in self.where.items())

    def account(self, labels: Mapping[str, str], *, now: float) -> Account | None:
        """The account a call with ``labels`` at ``now`` (epoch seconds) is charged
        to, or None when the limit does not cover it."""
        if not self.covers(labels):
            return None
        value = labels.get(self.per, "") if self.per is not None else ""
        tenant = ""
        if self.fair_by is not None:  # unlisted tenants share the "*" weight, if there is one
            tenant = labels.get(self.fair_by, "")
            if tenant not in self.weights and "*" in self.weights:
                tenant = "*"
        key = f"{_quote(self.name)}|{_quote(value)}"
        if self.window == "total":
            return Account(key, 0, 0, math.inf, None, value, tenant)
        if self.rolling:
            width = self.length_s / ROLLING_BUCKETS
            bucket = math.floor(now / width)
            live_from = bucket - ROLLING_BUCKETS + 1
            resets = (live_from + ROLLING_BUCKETS) * width
            return Account(key, bucket, live_from, now + self.length_s, resets, value, tenant)
        period = self.period(now)
        end = self.period_end(now)
        return Account(f"{key}|{period}", period, period, end, end, value, tenant)

    # -- windows ---------------------------------------------------------------------------

    @property
    def length_s(self) -> float:
        """The window's length in seconds (a rolling month is 30 days; inf for total)."""
        if self.window == "total":
            return math.inf
        if self.window == "month":
            return _ROLLING_MONTH_S
        return _SECONDS[self.window]

    def period(self, now: float) -> int:
        """The calendar period (UTC) ``now`` falls in, as an increasing integer."""
        if self.window == "month":
            day = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            return day.year * 12 + day.month - 1
        if self.window == "total":
            return 0
        return math.floor(now / _SECONDS[self.window])

    def period_end(self, now: float) -> float:
        """Epoch seconds at which the calendar period containing ``now`` ends."""
        if self.window == "total":
            return math.inf
        if self.window == "month":
            year, month = divmod(self.period(now) + 1, 12)
            return float(calendar.timegm((year, month + 1, 1, 0, 0, 0)))
        width = _SECONDS[self.window]
        return (math.floor(now / width) + 1) * width

    # -- words ------------------------------------------------------------------------------

    def describe(self, value: str = "") -> str:
        """``"the $5.00 daily limit per user (user 'u1')"``, for messages."""
        kind = f"{_ADJECTIVE[self.window]}{' rolling' if self.rolling else ''}"
        text = f"the ${self.usd:,.2f} {kind} limit {self.name!r}"
        if self.per is not None:
            text += f" for {self.per} {value!r}"
        return text


def _quote(text: str) -> str:
    """Escape ``|`` (the account key's separator) and anything unusual."""
    return quote(text, safe="-_.~=@+/ ")
