"""Telemetry: every recorded LLM call as an OpenTelemetry GenAI span, and metrics
(OpenTelemetry and Prometheus) with the tokens and dollars each technique saved."""

from tokenomy.telemetry.otel import Telemetry, as_observers
from tokenomy.telemetry.prometheus import PrometheusMetrics, serve_metrics

__all__ = ["PrometheusMetrics", "Telemetry", "as_observers", "serve_metrics"]
