"""Prometheus metrics of recorded LLM calls, for users without an OpenTelemetry collector."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tokenomy._optional import require

if TYPE_CHECKING:
    from tokenomy.monitor import UsageRecord

__all__ = ["PrometheusMetrics", "serve_metrics"]

MAX_MODELS = 50
"""Distinct model labels kept; later ones are counted as ``"other"`` (bounded cardinality)."""

STAGE_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
"""Upper bounds of the stage-duration histogram, seconds: stages take microseconds to
milliseconds (an embedding lookup), far less than a model call."""

_STAGES = frozenset(("budget", "cache", "context", "route", "output", "call", "settle"))


class PrometheusMetrics:
    """Counters and histograms in a ``prometheus_client`` registry.

    Labels are bounded: the model (at most :data:`MAX_MODELS` values), the token type,
    the technique, the cache result and the pipeline stage; never a prompt or a user id.

    Args:
        registry: a ``prometheus_client.CollectorRegistry`` (default: a new one, so
            nothing is added to the process-wide default registry by surprise).

    Example:
        >>> from tokenomy.monitor import UsageRecord
        >>> metrics = PrometheusMetrics()
        >>> call = UsageRecord(model="gpt-4o", input_tokens=10, output_tokens=5, cost_usd=0.001)
        >>> metrics.observe(call, {}, None, model="gpt-4o")
        >>> b'tokenomy_tokens_total{model="gpt-4o",type="input"} 10.0' in metrics.exposition()
        True
    """

    def __init__(self, *, registry: Any = None) -> None:
        client = require(
            "prometheus_client",
            feature="Prometheus metrics",
            package="prometheus-client",
            extra="otel",
        )
        self._client = client
        self.registry = registry if registry is not None else client.CollectorRegistry()
        r = self.registry
        self.tokens = client.Counter(
            "tokenomy_tokens", "Tokens sent and received.", ["model", "type"], registry=r
        )
        self.cost = client.Counter(
            "tokenomy_cost_usd", "What calls cost, USD.", ["model"], registry=r
        )
        self.saved_tokens = client.Counter(
            "tokenomy_saved_tokens", "Tokens saved, by technique.", ["technique"], registry=r
        )
        self.saved_usd = client.Counter(
            "tokenomy_saved_usd", "Dollars saved, by technique.", ["technique"], registry=r
        )
        self.cache = client.Counter(
            "tokenomy_cache_requests", "Cache lookups, by result.", ["result"], registry=r
        )
        self.duration = client.Histogram(
            "tokenomy_call_duration_seconds", "Model call duration.", ["model"], registry=r
        )
        self.stage = client.Histogram(
            "tokenomy_stage_duration_seconds",
            "Time a pipeline stage took on a call (the model call excluded).",
            ["stage"],
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self._models: set[str] = set()
        self._lock = threading.Lock()

    def _model(self, model: str) -> str:
        with self._lock:
            if model in self._models:
                return model
            if len(self._models) < MAX_MODELS:
                self._models.add(model)
                return model
        return "other"

    def observe(
        self,
        record: UsageRecord,
        saved: dict[str, tuple[int, float]],
        cache_result: str | None,
        *,
        model: str,
        stage_ms: Mapping[str, float] | None = None,
    ) -> None:
        """Count one recorded call."""
        label = self._model(model)
        if not record.cache_hit:
            self.tokens.labels(label, "input").inc(record.input_tokens)
            self.tokens.labels(label, "output").inc(record.output_tokens)
            if record.cost_usd:
                self.cost.labels(label).inc(record.cost_usd)
            if record.latency_s is not None:
                self.duration.labels(label).observe(record.latency_s)
        for technique, (tokens, usd) in saved.items():
            self.saved_tokens.labels(technique).inc(tokens)
            if usd:
                self.saved_usd.labels(technique).inc(usd)
        if cache_result is not None:
            self.cache.labels(cache_result).inc()
        for stage, ms in (stage_ms or {}).items():
            if stage in _STAGES:  # bounded label values
                self.stage.labels(stage).observe(ms / 1000)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (what a scrape returns)."""
        data: bytes = self._client.generate_latest(self.registry)
        return data


def serve_metrics(metrics: PrometheusMetrics, *, port: int = 9464, host: str = "127.0.0.1") -> Any:
    """Serve ``metrics`` for scraping at ``http://host:port/metrics`` in a daemon thread.

    Binds loopback by default; pass ``host="0.0.0.0"`` to expose it. Returns the HTTP
    server (call ``shutdown()`` to stop it; ``server_address`` has the bound port).
    """
    server, _thread = metrics._client.start_http_server(port, addr=host, registry=metrics.registry)
    return server
