"""Telemetry: GenAI spans with stage events and savings, metrics, Prometheus, OTLP."""

from __future__ import annotations

import http.server
import threading

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokenomy.cache import SemanticCache
from tokenomy.monitor import UsageRecorder
from tokenomy.telemetry import PrometheusMetrics, Telemetry, serve_metrics


@pytest.fixture
def otel():
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return telemetry, spans, reader, tracer_provider


def _metric_points(reader: InMemoryMetricReader) -> dict[str, list]:
    out: dict[str, list] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out


def test_a_langchain_call_is_a_genai_span_in_the_callers_trace_and_a_hit_says_so(otel):
    from langchain_core.language_models import FakeListChatModel

    from langchain_tokenomy import OptimizedChatModel, TokenomyCallbackHandler

    telemetry, spans, reader, provider = otel
    handler = TokenomyCallbackHandler(telemetry=telemetry)
    model = OptimizedChatModel(
        inner=FakeListChatModel(responses=["Paris is the capital."]),
        cache=SemanticCache(mode="exact"),
    )
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        for _ in range(2):
            model.invoke(
                "Capital of France?",
                config={"callbacks": [handler], "metadata": {"user": "alice"}},
            )
    calls = [s for s in spans.get_finished_spans() if s.name != "request"]
    assert len(calls) == 2  # one span per model call
    miss, hit = calls
    for span in calls:
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.kind == trace.SpanKind.CLIENT
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["tokenomy.user"] != "alice"  # hashed by default
    assert miss.attributes["gen_ai.usage.output_tokens"] > 0
    assert "tokenomy.cache.hit" not in miss.attributes
    assert [e.attributes["tokenomy.outcome"] for e in miss.events] == ["miss", "stored"]
    assert hit.attributes["tokenomy.cache.hit"] == "exact_cache"
    assert "gen_ai.usage.input_tokens" not in hit.attributes  # no provider usage
    assert hit.attributes["tokenomy.saved.tokens"] > 0
    assert [e.attributes["tokenomy.outcome"] for e in hit.events] == ["hit"]
    points = _metric_points(reader)
    results = {
        p.attributes["tokenomy.cache.result"]: p.value for p in points["tokenomy.cache.requests"]
    }
    assert results == {"miss": 1, "hit": 1}
    assert {p.attributes["gen_ai.token.type"] for p in points["gen_ai.client.token.usage"]} == {
        "input",
        "output",
    }
    assert points["tokenomy.saved.tokens"][0].attributes["tokenomy.technique"] == "exact_cache"


def test_a_llamaindex_call_and_an_optimized_llm_hit_are_spans(otel):
    from llama_index.core.llms import MockLLM

    import llama_index_tokenomy
    from llama_index_tokenomy import OptimizedLLM

    telemetry, spans, _, _ = otel
    llama_index_tokenomy.enable(telemetry=telemetry)
    try:
        llm = OptimizedLLM(llm=MockLLM(max_tokens=8), cache=SemanticCache(mode="exact"))
        llm.complete("What is tokenomy?")
        llm.complete("What is tokenomy?")
    finally:
        llama_index_tokenomy.disable()
    miss, hit = spans.get_finished_spans()
    assert miss.attributes["gen_ai.operation.name"] == "text_completion"
    assert miss.attributes["gen_ai.usage.output_tokens"] > 0
    assert hit.attributes["tokenomy.cache.hit"] == "exact_cache"
    assert "gen_ai.usage.output_tokens" not in hit.attributes


def test_content_is_exported_only_when_asked_and_redacted(otel):
    _, spans, _, provider = otel
    quiet = UsageRecorder(observers=[Telemetry(tracer_provider=provider)])
    quiet.record_call(model="gpt-4o", prompt="my card is 4242", output_text="ok")
    loud = Telemetry(
        tracer_provider=provider,
        capture_content=True,
        redact=lambda text: text.replace("4242", "****"),
    )
    UsageRecorder(observers=[loud]).record_call(
        model="gpt-4o",
        prompt="my card is 4242",
        output_text="ok",
        details={"prompt": "my card is 4242", "completion": "ok"},
    )
    first, second = spans.get_finished_spans()
    assert not first.events
    events = {e.name: dict(e.attributes) for e in second.events}
    assert events["gen_ai.content.prompt"] == {"gen_ai.prompt": "my card is ****"}
    assert events["gen_ai.content.completion"] == {"gen_ai.completion": "ok"}


def test_a_failing_exporter_never_fails_the_call(caplog):
    class Broken:
        def on_record(self, record, details):
            raise RuntimeError("collector down")

    recorder = UsageRecorder(observers=[Broken()])
    for _ in range(3):
        recorder.record_call(model="gpt-4o", prompt="hi", output_text="hello")
    assert recorder.ledger.totals().calls == 3
    assert caplog.text.count("collector down") == 1


def test_an_error_is_a_span_with_error_status(otel):
    telemetry, spans, _, _ = otel
    UsageRecorder(observers=[telemetry]).record_call(
        model="gpt-4o", status="error", details={"error": TimeoutError("slow")}
    )
    span = spans.get_finished_spans()[0]
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes["error.type"] == "TimeoutError"


def test_prometheus_metrics_are_scraped_over_http():
    import httpx

    metrics = PrometheusMetrics()
    telemetry = Telemetry(prometheus=metrics)
    recorder = UsageRecorder(observers=[telemetry])
    recorder.record_call(model="gpt-4o", prompt="hi", output_text="hello there", latency_s=0.2)
    recorder.record_call(
        model="gpt-4o", prompt="hi", output_text="hello there", cache_hit="exact_cache"
    )
    server = serve_metrics(metrics, port=0)
    try:
        port = server.server_address[1]
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert 'tokenomy_tokens_total{model="gpt-4o",type="output"} 2.0' in body
    assert 'tokenomy_saved_tokens_total{technique="exact_cache"}' in body
    assert 'tokenomy_cache_requests_total{result="hit"} 1.0' in body
    assert "alice" not in body and "hello" not in body


def test_model_labels_are_bounded():
    from tokenomy.monitor import UsageRecord
    from tokenomy.telemetry.prometheus import MAX_MODELS

    metrics = PrometheusMetrics()
    for i in range(MAX_MODELS + 5):
        metrics.observe(UsageRecord(model=f"m{i}", input_tokens=1), {}, None, model=f"m{i}")
    body = metrics.exposition().decode()
    series = [
        line
        for line in body.splitlines()
        if line.startswith("tokenomy_tokens_total{") and 'type="input"' in line
    ]
    assert len(series) == MAX_MODELS + 1  # the extras share "other"
    assert 'model="other"' in body


def test_spans_reach_an_otlp_receiver_on_loopback():
    exporter_module = pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = TracerProvider()
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        provider.add_span_processor(
            SimpleSpanProcessor(exporter_module.OTLPSpanExporter(endpoint=endpoint))
        )
        recorder = UsageRecorder(observers=[Telemetry(tracer_provider=provider)])
        recorder.record_call(model="gpt-4o-mini", prompt="hi", output_text="hello")
        provider.shutdown()
    finally:
        server.shutdown()
    request = ExportTraceServiceRequest.FromString(received[0])
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "chat gpt-4o-mini"
    names = {a.key for a in span.attributes}
    assert {"gen_ai.request.model", "gen_ai.usage.input_tokens", "tokenomy.cost_usd"} <= names


def test_a_llamaindex_query_engine_gives_one_span_per_llm_call(otel):
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    import llama_index_tokenomy

    telemetry, spans, _, provider = otel
    handler = llama_index_tokenomy.enable(telemetry=telemetry)
    try:
        index = VectorStoreIndex.from_documents(
            [Document(text="tokenomy cuts LLM token spend.")],
            embed_model=MockEmbedding(embed_dim=8),
        )
        engine = index.as_query_engine(llm=MockLLM(max_tokens=16))
        with provider.get_tracer("app").start_as_current_span("user request") as parent:
            engine.query("What does tokenomy do?")
    finally:
        llama_index_tokenomy.disable()
    calls = [s for s in spans.get_finished_spans() if s.name != "user request"]
    assert len(calls) == handler.ledger.totals().calls >= 1
    assert all(s.parent.span_id == parent.get_span_context().span_id for s in calls)
    assert all(s.attributes["gen_ai.usage.output_tokens"] > 0 for s in calls)


def test_stage_times_are_a_bounded_histogram_in_prometheus():
    from tokenomy.monitor import UsageRecord

    metrics = PrometheusMetrics()
    call = UsageRecord(model="gpt-4o", input_tokens=10, output_tokens=5)
    metrics.observe(call, {}, "miss", model="gpt-4o", stage_ms={"cache": 0.4, "x" * 40: 1.0})
    text = metrics.exposition().decode()
    assert 'tokenomy_stage_duration_seconds_count{stage="cache"} 1.0' in text
    assert 'tokenomy_stage_duration_seconds_bucket{le="0.0005",stage="cache"} 1.0' in text
    assert "x" * 40 not in text  # only the pipeline's stage names become labels


def test_the_environment_switches_telemetry_on_for_enable(monkeypatch):
    import langchain_tokenomy
    import llama_index_tokenomy
    from tokenomy.settings import telemetry_from_env as from_environment

    monkeypatch.delenv("TOKENOMY_TELEMETRY__ENABLED", raising=False)
    assert from_environment(None) is None
    assert from_environment(False) is False  # an explicit argument wins
    monkeypatch.setenv("TOKENOMY_TELEMETRY__ENABLED", "true")
    monkeypatch.setenv("TOKENOMY_TELEMETRY__USER_IDS", "off")
    made = from_environment(None)
    assert isinstance(made, Telemetry) and made.user_ids == "off"
    try:
        for framework in (langchain_tokenomy, llama_index_tokenomy):
            handler = framework.enable()
            observers = getattr(handler, "recorder", None) or handler._recorder
            assert [type(o) for o in observers.observers] == [Telemetry]
    finally:
        langchain_tokenomy.disable()
        llama_index_tokenomy.disable()
