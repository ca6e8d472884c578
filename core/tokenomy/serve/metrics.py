"""Counters of one gateway process, in Prometheus' text format (``GET /metrics``).

Each replica exposes its own; a Prometheus server scraping every replica adds them
up. Labels are route paths, status codes, tenant and model names: never a key.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenomy.serve.gateway import Gateway

__all__ = ["LATENCY_BUCKETS_S", "Metrics", "gauges"]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the request-duration histogram, seconds."""

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Mapping[str, object]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _fmt(name: str, labels: Labels, value: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    number = repr(float(value)) if value != int(value) else str(int(value))
    return f"{name}{{{inner}}} {number}" if inner else f"{name} {number}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and one duration histogram, safe across threads.

    Example:
        >>> m = Metrics()
        >>> m.inc("tokenomy_requests_total", path="/v1/chat/completions", status=200)
        >>> print(m.render().splitlines()[-1])
        tokenomy_requests_total{path="/v1/chat/completions",status="200"} 1
    """

    def __init__(self) -> None:
        self._counters: defaultdict[tuple[str, Labels], float] = defaultdict(float)
        self._buckets: defaultdict[Labels, list[int]] = defaultdict(
            lambda: [0] * (len(LATENCY_BUCKETS_S) + 1)
        )
        self._sums: defaultdict[Labels, float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, name: str, value: float = 1.0, **labels: object) -> None:
        with self._lock:
            self._counters[(name, _labels(labels))] += value

    def observe(self, seconds: float, **labels: object) -> None:
        """One request's duration, in ``tokenomy_request_duration_seconds``."""
        key = _labels(labels)
        index = next((i for i, b in enumerate(LATENCY_BUCKETS_S) if seconds <= b), -1)
        with self._lock:
            self._buckets[key][index] += 1
            self._sums[key] += seconds

    def render(self, gauges: Iterable[tuple[str, Mapping[str, object], float]] = ()) -> str:
        """Everything, plus ``gauges`` (name, labels, value) read at scrape time."""
        lines: list[str] = []
        with self._lock:
            counters = sorted(self._counters.items())
            buckets = sorted((k, list(v)) for k, v in self._buckets.items())
            sums = dict(self._sums)
        for (name, labels), value in counters:
            lines.append(_fmt(name, labels, value))
        hist = "tokenomy_request_duration_seconds"
        for labels, counts in buckets:
            running = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(_fmt(f"{hist}_bucket", (*labels, ("le", le)), running))
            lines.append(_fmt(f"{hist}_sum", labels, sums[labels]))
            lines.append(_fmt(f"{hist}_count", labels, running))
        for name, gauge_labels, value in gauges:
            lines.append(_fmt(name, _labels(gauge_labels), value))
        return "\n".join(lines) + "\n"


def gauges(gateway: Gateway) -> list[tuple[str, Mapping[str, object], float]]:
    """The gauges and totals ``/metrics`` reads from the gateway's parts when scraped."""
    from tokenomy.cache import MemoryTier

    out: list[tuple[str, Mapping[str, object], float]] = []
    if gateway.cache is not None:
        stats = gateway.cache.stats()
        out += [
            ("tokenomy_cache_lookups_total", {}, stats.lookups),
            ("tokenomy_cache_hits_total", {"kind": "exact"}, stats.exact_hits),
            ("tokenomy_cache_hits_total", {"kind": "semantic"}, stats.semantic_hits),
            ("tokenomy_cache_shared_total", {}, stats.single_flight_shared),
            ("tokenomy_cache_stores_total", {}, stats.stores),
        ]
        memory = [t for t in gateway.cache.tiers if isinstance(t, MemoryTier)]
        out.append(("tokenomy_cache_memory_bytes", {}, sum(t.nbytes for t in memory)))
    if gateway.batch is not None:
        b = gateway.batch.stats
        out += [
            ("tokenomy_batch_jobs_total", {}, b.jobs),
            ("tokenomy_batch_requests_total", {}, b.requests),
            ("tokenomy_batch_failed_total", {}, b.failed),
        ]
    if gateway.grouping is not None:
        gs = gateway.grouping.stats
        out += [
            ("tokenomy_grouping_requests_total", {}, gs.requests),
            ("tokenomy_grouping_calls_total", {}, gs.calls),
            ("tokenomy_grouping_grouped_total", {}, gs.grouped),
            ("tokenomy_grouping_split_failed_total", {}, gs.split_failed),
        ]
    if gateway.dedup is not None:
        d = gateway.dedup.stats
        out += [
            ("tokenomy_upstream_calls_total", {}, d.calls),
            ("tokenomy_dedup_shared_total", {"how": "in_flight"}, d.in_flight),
            ("tokenomy_dedup_shared_total", {"how": "window"}, d.window),
            ("tokenomy_dedup_redis_errors_total", {}, d.redis_errors),
            ("tokenomy_dedup_in_flight", {}, gateway.dedup.in_flight),
        ]
    failures: dict[str, int] = {}
    for pipe in gateway.pipelines:
        for stage, n in pipe.failures.items():
            failures[stage] = failures.get(stage, 0) + n
    out += [("tokenomy_stage_failures_total", {"stage": s}, n) for s, n in failures.items()]
    for name, tenant in gateway.keys.tenants.items():
        if tenant.budget is not None:
            out.append(("tokenomy_budget_spent_usd", {"tenant": name}, tenant.budget.spent_usd))
    return out
