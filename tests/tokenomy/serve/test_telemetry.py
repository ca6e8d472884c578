"""The gateway's telemetry: a GenAI span per call in the caller's trace (its
``traceparent`` header), with the pipeline's stages, their times and the route; a
cache hit says so; switched on by the file or the environment."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("opentelemetry.sdk")

from fake_openai import FakeOpenAI, uvicorn_thread
from gateway_support import UPSTREAM_KEY, client, config_for
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokenomy.serve import TRACE_HEADER, GatewayConfig, create_app
from tokenomy.serve.gateway import Gateway
from tokenomy.telemetry import Telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def test_a_gateway_call_is_a_span_in_the_callers_trace_with_stage_times(upstream: FakeOpenAI):
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry = Telemetry(
        tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    config = GatewayConfig.from_mapping(config_for(upstream.url))
    app = create_app(config, environ={"UPSTREAM_KEY": UPSTREAM_KEY}, telemetry=telemetry)
    header = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    with uvicorn_thread(app) as url:
        openai = client(url)
        raw = [
            openai.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": "What is 2 + 2?"}],
                extra_headers=header,
            )
            for _ in range(2)
        ]
    miss, hit = spans.get_finished_spans()
    for span in (miss, hit):
        assert format(span.context.trace_id, "032x") == TRACE_ID  # the caller's trace
        assert format(span.parent.span_id, "016x") == PARENT_ID
    assert miss.attributes["gen_ai.usage.input_tokens"] > 0
    assert miss.attributes["tokenomy.route.model"] in ("gpt-4o-mini", "gpt-4o")
    stages = [e.attributes["tokenomy.stage"] for e in miss.events]
    assert "cache" in stages and "route" in stages
    assert hit.attributes["tokenomy.cache.hit"] == "exact_cache"
    assert "gen_ai.usage.input_tokens" not in hit.attributes
    points = {
        m.name: list(m.data.data_points)
        for r in reader.get_metrics_data().resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }
    timed = {p.attributes["tokenomy.stage"]: p for p in points["tokenomy.stage.duration"]}
    assert {"cache", "route", "settle"} <= set(timed)
    assert all(p.count >= 1 and p.sum >= 0 for p in timed.values())
    # in seconds: the routing stage's time is the one the miss's trace header reports in ms
    routed_ms = json.loads(raw[0].headers[TRACE_HEADER])["stage_ms"]["route"]
    assert timed["route"].sum == pytest.approx(routed_ms / 1000, abs=1e-5)


def test_the_environment_switches_the_gateways_telemetry_on(monkeypatch, upstream: FakeOpenAI):
    config = GatewayConfig.from_mapping(config_for(upstream.url))
    environ = {"UPSTREAM_KEY": UPSTREAM_KEY}
    off = Gateway(config, environ=environ)
    assert not off.telemetry and off.recorder is None  # nothing recorded, nothing spent
    monkeypatch.setenv("TOKENOMY_TELEMETRY__ENABLED", "true")
    on = Gateway(config, environ=environ)
    assert on.telemetry and on.recorder is not None
    assert isinstance(on.recorder.inner.observers[0], Telemetry)
    assert on.recorder.inner.ledger.__class__.__name__ == "InMemoryLedger"  # bounded
    for _ in range(3):
        on.recorder.record_call(model="gpt-4o-mini", prompt="hi", output_text="hello")
    assert len(on.recorder.inner.ledger) == 1  # a long-running gateway does not grow
