"""OpenTelemetry export of recorded LLM calls: GenAI spans, stage events, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tokenomy._optional import require
from tokenomy.errors import ConfigError
from tokenomy.telemetry.attributes import (
    ERROR_TYPE,
    OPERATION,
    REQUEST_MODEL,
    TOKEN_TYPE,
    call_attributes,
    hashed,
    saved_by_technique,
    stage_times,
    text_of,
)

if TYPE_CHECKING:
    from tokenomy.monitor import UsageRecord
    from tokenomy.telemetry.prometheus import PrometheusMetrics

__all__ = ["Telemetry", "as_observers", "join_trace"]

_VERSION = "0.1.0"
_DETAIL_CHARS = 200


class Telemetry:
    """Exports every call a usage recorder sees: one OpenTelemetry span per model call
    (GenAI semantic conventions, ``tokenomy.*`` attributes, one event per pipeline
    stage), and metrics (tokens, cost, tokens and dollars saved by technique, cache
    hits and misses, call duration) through the OpenTelemetry metrics API and,
    optionally, a Prometheus registry.

    Attach it with ``langchain_tokenomy.enable(telemetry=True)`` or
    ``llama_index_tokenomy.enable(telemetry=True)`` (or pass it as a usage
    recorder's observer). The span is a child of the OpenTelemetry context current
    where the call is recorded, so it joins the caller's trace. Configure exporters
    the usual way (``TracerProvider`` + ``BatchSpanProcessor(OTLPSpanExporter())``)
    or pass providers here.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider`` (default: the global one).
        meter_provider: a ``MeterProvider`` (default: the global one).
        prometheus: a :class:`~tokenomy.telemetry.PrometheusMetrics` to update too
            (default None).
        capture_content: add the prompt and the answer as span events (default
            False: no text leaves the process).
        redact: applied to prompt and answer text before it is exported.
        user_tag: the record tag naming the user (default ``"user"``).
        user_ids: ``"hashed"`` (default: a stable 12-hex digest), ``"plain"`` or
            ``"off"``; on spans only, never as a metric label.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        ...     InMemorySpanExporter)
        >>> from tokenomy.monitor import UsageRecorder
        >>> spans, provider = InMemorySpanExporter(), TracerProvider()
        >>> provider.add_span_processor(SimpleSpanProcessor(spans))
        >>> recorder = UsageRecorder(observers=[Telemetry(tracer_provider=provider)])
        >>> _ = recorder.record_call(model="gpt-4o-mini", prompt="hi", output_text="hello")
        >>> span = spans.get_finished_spans()[0]
        >>> span.name, span.attributes["gen_ai.usage.output_tokens"]
        ('chat gpt-4o-mini', 1)
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        prometheus: PrometheusMetrics | None = None,
        capture_content: bool = False,
        redact: Callable[[str], str] | None = None,
        user_tag: str = "user",
        user_ids: str = "hashed",
    ) -> None:
        if user_ids not in ("hashed", "plain", "off"):
            raise ConfigError(f"user_ids must be 'hashed', 'plain' or 'off'; got {user_ids!r}.")
        trace = require(
            "opentelemetry.trace", feature="telemetry", package="opentelemetry-api", extra="otel"
        )
        metrics = require(
            "opentelemetry.metrics", feature="telemetry", package="opentelemetry-api", extra="otel"
        )
        self._trace = trace
        self._tracer = trace.get_tracer("tokenomy", _VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter("tokenomy", _VERSION, meter_provider=meter_provider)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens per model call."
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="Model call duration."
        )
        self._cost = meter.create_counter(
            "tokenomy.cost", unit="USD", description="What model calls cost."
        )
        self._saved_tokens = meter.create_counter(
            "tokenomy.saved.tokens", unit="{token}", description="Tokens saved, by technique."
        )
        self._saved_usd = meter.create_counter(
            "tokenomy.saved.cost", unit="USD", description="Dollars saved, by technique."
        )
        self._cache = meter.create_counter(
            "tokenomy.cache.requests", unit="{request}", description="Cache lookups, by result."
        )
        self._stage = meter.create_histogram(
            "tokenomy.stage.duration",
            unit="s",
            description="Time a pipeline stage took on a call (the model call excluded).",
        )
        self.prometheus = prometheus
        self.capture_content = capture_content
        self.redact = redact
        self.user_tag = user_tag
        self.user_ids = user_ids

    def on_record(self, record: UsageRecord, details: Mapping[str, Any]) -> None:
        """Export one recorded call (a :class:`~tokenomy.monitor.RecordObserver` hook)."""
        attrs = call_attributes(record, details, user=self._user(record))
        operation, model = attrs[OPERATION], attrs.get(REQUEST_MODEL, "unknown")
        end = time.time_ns()
        start = end - int((record.latency_s or 0.0) * 1e9)
        span = self._tracer.start_span(
            f"{operation} {model}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attrs,
            start_time=start,
        )
        trace = details.get("trace") or {}
        for stage in trace.get("stages") or ():
            event: dict[str, str | int] = {
                "tokenomy.stage": str(stage.get("stage")),
                "tokenomy.outcome": str(stage.get("outcome")),
            }
            if stage.get("detail"):
                event["tokenomy.detail"] = str(stage["detail"])[:_DETAIL_CHARS]
            if stage.get("saved_tokens"):
                event["tokenomy.saved_tokens"] = int(stage["saved_tokens"])
            span.add_event("tokenomy.stage", event, timestamp=start)
        if self.capture_content:
            self._content(span, details)
        error = details.get("error")
        if error is not None or record.status == "error":
            span.set_status(
                self._trace.Status(self._trace.StatusCode.ERROR, str(error or "")[:200])
            )
        span.end(end_time=end)
        self._metrics(record, details, attrs)

    def _user(self, record: UsageRecord) -> str | None:
        user = (record.tags or {}).get(self.user_tag)
        if user is None or self.user_ids == "off":
            return None
        return user if self.user_ids == "plain" else hashed(user)

    def _content(self, span: Any, details: Mapping[str, Any]) -> None:
        for name, key in (
            ("gen_ai.content.prompt", "prompt"),
            ("gen_ai.content.completion", "completion"),
        ):
            text = text_of(details.get(key))
            if text:
                text = self.redact(text) if self.redact is not None else text
                span.add_event(name, {f"gen_ai.{key}": text})

    def _metrics(
        self, record: UsageRecord, details: Mapping[str, Any], attrs: Mapping[str, Any]
    ) -> None:
        base = {OPERATION: attrs[OPERATION], REQUEST_MODEL: attrs.get(REQUEST_MODEL, "unknown")}
        if record.status == "error":
            base = {**base, ERROR_TYPE: str(attrs.get(ERROR_TYPE, "error"))}
        if not record.cache_hit:
            self._tokens.record(record.input_tokens, {**base, TOKEN_TYPE: "input"})
            self._tokens.record(record.output_tokens, {**base, TOKEN_TYPE: "output"})
            if record.latency_s is not None:
                self._duration.record(record.latency_s, base)
            if record.cost_usd:
                self._cost.add(record.cost_usd, base)
        saved = saved_by_technique(record, details.get("trace"))
        for technique, (tokens, usd) in saved.items():
            self._saved_tokens.add(tokens, {"tokenomy.technique": technique})
            if usd:
                self._saved_usd.add(usd, {"tokenomy.technique": technique})
        result = _cache_result(record, details)
        if result is not None:
            self._cache.add(1, {"tokenomy.cache.result": result})
        stage_ms = stage_times(details.get("trace"))
        for stage, ms in stage_ms.items():
            self._stage.record(ms / 1000, {"tokenomy.stage": stage})
        if self.prometheus is not None:
            self.prometheus.observe(
                record, saved, result, model=str(base[REQUEST_MODEL]), stage_ms=stage_ms
            )


def as_observers(telemetry: Telemetry | bool | None) -> list[Telemetry]:
    """The usage-recorder observers for a front door's ``telemetry`` argument: none for
    None/False, a :class:`Telemetry` on the global providers for True."""
    if telemetry is None or telemetry is False:
        return []
    return [Telemetry() if telemetry is True else telemetry]


def _cache_result(record: UsageRecord, details: Mapping[str, Any]) -> str | None:
    """``"hit"`` or ``"miss"`` when the call consulted a cache, else None."""
    if record.cache_hit:
        return "hit"
    for stage in (details.get("trace") or {}).get("stages") or ():
        if stage.get("stage") == "cache":
            return "hit" if stage.get("outcome") in ("hit", "shared") else "miss"
    return None


def join_trace(headers: Mapping[str, str]) -> None:
    """Make the trace an incoming request carries (W3C ``traceparent``/``tracestate``
    headers) the current OpenTelemetry context of the running task, so that the spans
    of the calls it causes join the caller's trace (the gateway calls it per request;
    the context ends with the request's task)."""
    from opentelemetry import context, propagate

    context.attach(propagate.extract(headers))
