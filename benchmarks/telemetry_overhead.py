"""Time telemetry adds per recorded LLM call: OpenTelemetry span + metrics, Prometheus.

Command (from the repository root):
    python benchmarks/telemetry_overhead.py [--calls 2000] [--repeats 5]

Writes benchmarks/results/telemetry_overhead.json. A LangChain chat model that
answers at once (``GenericFakeChatModel`` with usage) is invoked with
``TokenomyCallbackHandler`` and telemetry off, then on: the OpenTelemetry SDK's
``TracerProvider`` with a ``BatchSpanProcessor`` and an exporter that drops spans
(the export itself happens on the SDK's background thread, as in production), a
``MeterProvider`` with a periodic reader, and optionally Prometheus metrics. The
overhead is the difference of median per-call times in the same run.

Caveats: the handler itself (ledger record, cost) is in both columns; only what
telemetry adds is compared against the 0.2 ms target. A real provider call takes
100-1000x longer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations")]

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from langchain_tokenomy import TokenomyCallbackHandler
from tokenomy.telemetry import PrometheusMetrics, Telemetry

OUT = ROOT / "benchmarks" / "results" / "telemetry_overhead.json"


class DropSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DropMetrics(MetricExporter):
    def __init__(self) -> None:
        super().__init__()

    def export(
        self, metrics_data: Any, timeout_millis: float = 0, **kwargs: Any
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 0, **kwargs: Any) -> None:
        return None


def model() -> GenericFakeChatModel:
    reply = AIMessage(
        content="The capital of France is Paris.",
        usage_metadata={"input_tokens": 24, "output_tokens": 8, "total_tokens": 32},
        response_metadata={"model_name": "gpt-4o-mini", "finish_reason": "stop"},
    )
    return GenericFakeChatModel(messages=itertools.repeat(reply))


def per_call(handler: TokenomyCallbackHandler, calls: int, repeats: int) -> float:
    llm = model()
    config = {"callbacks": [handler], "metadata": {"user": "alice", "feature": "faq"}}
    llm.invoke("warm up", config=config)
    medians = []
    for _ in range(repeats):
        times = []
        for i in range(calls):
            start = time.perf_counter()
            llm.invoke(f"Question {i}?", config=config)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return statistics.median(medians) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tracer = TracerProvider()
    tracer.add_span_processor(BatchSpanProcessor(DropSpans()))
    meter = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(DropMetrics(), export_interval_millis=5000)]
    )
    conditions: dict[str, Callable[[], TokenomyCallbackHandler]] = {
        "telemetry off": lambda: TokenomyCallbackHandler(),
        "OpenTelemetry spans + metrics": lambda: TokenomyCallbackHandler(
            telemetry=Telemetry(tracer_provider=tracer, meter_provider=meter)
        ),
        "OpenTelemetry + Prometheus": lambda: TokenomyCallbackHandler(
            telemetry=Telemetry(
                tracer_provider=tracer, meter_provider=meter, prometheus=PrometheusMetrics()
            )
        ),
    }
    rows = {name: per_call(make(), args.calls, args.repeats) for name, make in conditions.items()}
    base = rows["telemetry off"]
    print(f"per call, median of {args.repeats} runs of {args.calls} LangChain invokes")
    print(f"{'condition':32} {'p50 ms':>8} {'added ms':>9}")
    for name, value in rows.items():
        print(f"{name:32} {value:8.3f} {value - base:9.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "calls": args.calls,
                "repeats": args.repeats,
                "p50_ms": rows,
                "added_p50_ms": {k: v - base for k, v in rows.items()},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")
    tracer.shutdown()
    meter.shutdown()


if __name__ == "__main__":
    main()
