"""Grouping usage records by model, tag and time bucket."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from tokenomy.errors import ConfigError
from tokenomy.monitor.records import UsageRecord, UsageSummary
from tokenomy.tokens.usage import UNATTRIBUTED

__all__ = ["Aggregator", "Bucket", "aggregate", "bucket_start"]

Bucket = Literal["minute", "hour", "day", "week", "month"]
_BUCKETS: tuple[str, ...] = get_args(Bucket)
_RECORD_FIELDS = ("model", "source", "status", "cache_hit", "exact")


def bucket_start(timestamp: float, bucket: Bucket) -> float:
    """Start (epoch seconds, UTC) of the ``bucket`` holding ``timestamp``."""
    t = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    if bucket == "minute":
        t = t.replace(second=0, microsecond=0)
    elif bucket == "hour":
        t = t.replace(minute=0, second=0, microsecond=0)
    elif bucket == "day":
        t = t.replace(hour=0, minute=0, second=0, microsecond=0)
    elif bucket == "week":
        t = t.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=t.weekday())
    elif bucket == "month":
        t = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ConfigError(f"Unknown time bucket {bucket!r}; valid buckets: {', '.join(_BUCKETS)}.")
    return t.timestamp()


def _group_value(record: UsageRecord, key: str) -> str:
    if key in _RECORD_FIELDS:
        value = getattr(record, key)
        if value is None:
            return UNATTRIBUTED
        return str(value).lower() if isinstance(value, bool) else str(value)
    return record.tags.get(key) or UNATTRIBUTED


@dataclass
class _Acc:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    estimated_calls: int = 0
    error_calls: int = 0
    cache_hits: int = 0
    saved_tokens: dict[str, int] = field(default_factory=dict)
    saved_cost_usd: dict[str, float] = field(default_factory=dict)

    def add(self, r: UsageRecord) -> None:
        self.calls += 1
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        self.cached_input_tokens += r.cached_input_tokens
        self.reasoning_tokens += r.reasoning_tokens
        if r.cost_usd is None:
            # A call that spent nothing (a cache hit, an error) has no unknown cost.
            if r.total_tokens:
                self.unpriced_calls += 1
        else:
            self.cost_usd += r.cost_usd
        self.estimated_calls += not r.exact
        self.error_calls += r.status == "error"
        self.cache_hits += r.cache_hit
        for k, v in r.saved_tokens.items():
            self.saved_tokens[k] = self.saved_tokens.get(k, 0) + v
        for k, c in r.saved_cost_usd.items():
            self.saved_cost_usd[k] = self.saved_cost_usd.get(k, 0.0) + c


def aggregate(
    records: Iterable[UsageRecord],
    by: Sequence[str] = ("model",),
    *,
    bucket: Bucket | None = None,
) -> list[UsageSummary]:
    """Sum ``records`` per group of ``by`` keys (and per time ``bucket``).

    Args:
        records: the records to sum.
        by: record fields (``model``, ``source``, ``status``, ``cache_hit``,
            ``exact``) or tag names; ``()`` gives one overall total.
        bucket: split each group by ``minute``/``hour``/``day``/``week``/``month``.

    Returns:
        Summaries sorted by bucket, then by cost (highest first).
    """
    totals = Aggregator(by, bucket=bucket)
    for r in records:
        totals.add(r)
    return totals.summaries()


class Aggregator:
    """:func:`aggregate`, one record at a time: sums a stream of records without
    holding them (``add`` each, then ``summaries()``)."""

    def __init__(self, by: Sequence[str] = ("model",), *, bucket: Bucket | None = None) -> None:
        if isinstance(by, str):
            by = (by,)
        if bucket is not None and bucket not in _BUCKETS:
            raise ConfigError(
                f"Unknown time bucket {bucket!r}; valid buckets: {', '.join(_BUCKETS)}."
            )
        self.by = tuple(by)
        self.bucket = bucket
        self._groups: dict[tuple[tuple[str, ...], float | None], _Acc] = {}
        self._starts: dict[int, float] = {}  # hour -> its bucket's start

    def _start(self, timestamp: float, bucket: Bucket) -> float:
        if bucket == "minute" or not math.isfinite(timestamp):
            return bucket_start(timestamp, bucket)
        hour = math.floor(timestamp / 3600)  # every other bucket starts on an hour (UTC)
        start = self._starts.get(hour)
        if start is None:
            start = self._starts[hour] = bucket_start(timestamp, bucket)
        return start

    def add(self, r: UsageRecord) -> None:
        key = tuple(_group_value(r, k) for k in self.by)
        start = self._start(r.timestamp, self.bucket) if self.bucket else None
        acc = self._groups.get((key, start))
        if acc is None:
            acc = self._groups[(key, start)] = _Acc()
        acc.add(r)

    def summaries(self) -> list[UsageSummary]:
        out = [
            UsageSummary(
                group=dict(zip(self.by, key, strict=True)),
                bucket_start=start,
                calls=a.calls,
                input_tokens=a.input_tokens,
                output_tokens=a.output_tokens,
                cached_input_tokens=a.cached_input_tokens,
                reasoning_tokens=a.reasoning_tokens,
                cost_usd=a.cost_usd,
                unpriced_calls=a.unpriced_calls,
                estimated_calls=a.estimated_calls,
                error_calls=a.error_calls,
                cache_hits=a.cache_hits,
                saved_tokens=dict(a.saved_tokens),
                saved_cost_usd=dict(a.saved_cost_usd),
            )
            for (key, start), a in self._groups.items()
        ]
        out.sort(key=lambda s: (s.bucket_start or 0.0, -s.cost_usd, -s.total_tokens))
        return out


def matches(record: UsageRecord, where: Mapping[str, str] | None) -> bool:
    """Whether ``record`` has every ``key == value`` of ``where`` (fields or tags)."""
    if not where:
        return True
    return all(_group_value(record, k) == v for k, v in where.items())
