"""Every LangChain model call as an OpenTelemetry span, sent over OTLP, and a Prometheus scrape.

Run: python examples/telemetry.py

1. A receiver on 127.0.0.1 stands in for an OpenTelemetry Collector (Langfuse, Phoenix,
   Grafana Tempo, Datadog all ingest the same OTLP/HTTP request).
2. `langchain_tokenomy.enable(telemetry=Telemetry(...))` exports every call of an
   unchanged chain: a miss, then a cache hit that says so.
3. The same calls as Prometheus metrics, scraped over HTTP.

Needs `pip install tokenomy[otel] opentelemetry-exporter-otlp-proto-http`.
"""

import http.server
import threading

import httpx
from langchain_core.language_models import FakeListChatModel
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import langchain_tokenomy
from langchain_tokenomy import OptimizedChatModel
from tokenomy.cache import SemanticCache
from tokenomy.telemetry import PrometheusMetrics, Telemetry, serve_metrics

received: list[bytes] = []


class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    collector = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    metrics = PrometheusMetrics()
    langchain_tokenomy.enable(telemetry=Telemetry(tracer_provider=provider, prometheus=metrics))
    model = OptimizedChatModel(
        inner=FakeListChatModel(responses=["Paris is the capital of France."]),
        cache=SemanticCache(mode="exact"),
    )
    for _ in range(2):
        model.invoke("What is the capital of France?", config={"metadata": {"user": "alice"}})
    langchain_tokenomy.disable()
    provider.shutdown()
    collector.shutdown()
    for body in received:
        for span in (
            ExportTraceServiceRequest.FromString(body).resource_spans[0].scope_spans[0].spans
        ):
            attrs = {a.key: a.value for a in span.attributes}
            hit = attrs.get("tokenomy.cache.hit")
            outcomes = [
                {a.key: a.value.string_value for a in e.attributes}["tokenomy.outcome"]
                for e in span.events
            ]
            print(
                f"span {span.name!r}: cache hit = {hit.string_value if hit else None}, "
                f"stages = {outcomes}"
            )
    server = serve_metrics(metrics, port=0)
    scrape = httpx.get(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=5).text
    server.shutdown()
    print(
        next(
            line
            for line in scrape.splitlines()
            if line.startswith('tokenomy_cache_requests_total{result="hit"')
        )
    )


if __name__ == "__main__":
    main()
