"""Alert sinks: logging, a callback, a webhook received by a loopback server; a
broken sink never fails the call, and each alert key fires once."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tokenomy.budget import (
    Alert,
    Alerts,
    CallbackSink,
    Limit,
    LoggingSink,
    SpendBudget,
    WebhookSink,
)
from tokenomy.errors import ConfigError


@pytest.fixture
def hook():
    """An HTTP server on 127.0.0.1 that records each POST (status set by ``.status``)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(server.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status = 200
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/spend"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_threshold_alert_reaches_a_webhook(hook):
    pytest.importorskip("httpx")
    sink = WebhookSink(hook.url, headers={"Authorization": "Bearer t0ken"})
    budget = SpendBudget(limits=[Limit(usd=4, window="day")], alerts=Alerts(sinks=[sink]))
    budget.charge(2.0)
    budget.charge(2.0)
    assert sink.flush(timeout_s=10)
    assert [body["threshold"] for _, _, body in hook.received] == [0.5, 0.8, 1.0]
    path, headers, body = hook.received[0]
    assert path == "/hooks/spend" and headers["Authorization"] == "Bearer t0ken"
    assert body["kind"] == "threshold" and body["limit"] == "all-day" and body["limit_usd"] == 4.0
    assert "50% spent" in body["message"] and sink.sent == 3 and sink.failures == 0


def test_a_failing_webhook_is_retried_then_counted_and_never_raises(hook):
    pytest.importorskip("httpx")
    hook.status = 500
    sink = WebhookSink(hook.url, retries=2)
    sink.send(Alert("anomaly", "spend rate 9x usual", "k"))
    assert sink.flush(timeout_s=10)
    assert len(hook.received) == 3 and sink.sent == 0 and sink.failures == 1


def test_each_key_fires_once_and_a_broken_sink_does_not_stop_the_others(caplog):
    seen = []

    class Broken:
        def send(self, alert):
            raise RuntimeError("pager down")

    alerts = Alerts(sinks=[Broken(), CallbackSink(seen.append), LoggingSink()])
    with caplog.at_level(logging.WARNING, logger="tokenomy.budget.alerts"):
        for _ in range(3):
            alerts.emit(Alert("threshold", "80% of the daily limit spent", "day|0.8"))
    assert len(seen) == 1 and alerts.failures == 1
    assert "80% of the daily limit spent" in caplog.text and "pager down" in caplog.text


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Alerts(thresholds=(0.5, 1.5)), "in (0, 1]"),
        (lambda: Alerts(sinks=[object()]), "send(alert)"),
        (lambda: WebhookSink("ftp://x"), "http(s) URL"),
        (lambda: CallbackSink("not callable"), "callable"),
    ],
)
def test_bad_alert_options_say_what_to_pass(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    assert words in str(err.value)
