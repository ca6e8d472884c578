"""Spend over time: ``(timestamp, usd)`` points summed into hourly or daily buckets.

The anomaly detector and the forecast read spend from anything that yields points:
``(epoch seconds, usd)`` pairs, or records with ``timestamp`` and ``cost_usd``
attributes (a :class:`tokenomy.monitor.UsageRecord`, so a ledger's ``records()``
can be passed as it is). Records without a price (``cost_usd=None``) are skipped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tokenomy.errors import ConfigError

__all__ = ["DAY_S", "HOUR_S", "points", "spend_by"]

HOUR_S = 3600.0
DAY_S = 86400.0


def points(source: Iterable[Any]) -> list[tuple[float, float]]:
    """``(timestamp, usd)`` pairs from pairs or records, in time order."""
    out = []
    for item in source:
        if isinstance(item, tuple | list):
            ts, usd = item
        else:
            ts, usd = getattr(item, "timestamp", None), getattr(item, "cost_usd", None)
        if ts is None or usd is None:
            continue
        ts, usd = float(ts), float(usd)
        if not (math.isfinite(ts) and math.isfinite(usd)) or usd < 0:
            raise ConfigError(f"spend points are (epoch seconds, usd >= 0); got ({ts!r}, {usd!r}).")
        out.append((ts, usd))
    out.sort()
    return out


def spend_by(source: Iterable[Any], width_s: float) -> dict[int, float]:
    """USD per bucket of ``width_s`` seconds (bucket ``i`` starts at ``i * width_s``,
    UTC); buckets without spend are absent."""
    if width_s <= 0:
        raise ConfigError(f"width_s must be > 0 seconds; got {width_s!r}.")
    out: dict[int, float] = defaultdict(float)
    for ts, usd in points(source):
        out[math.floor(ts / width_s)] += usd
    return dict(out)
