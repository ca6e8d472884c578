"""Spend alerts and where they go: logging, a Python callback, a webhook.

An :class:`Alert` is a frozen record (what, which limit, how much, when). Budgets
fire threshold alerts (50/80/100% of a limit by default), the
:class:`~tokenomy.budget.SpendAnomalyDetector` fires on an unusual spend rate and
:func:`~tokenomy.budget.forecast_alert` when a monthly limit will run out early.
:class:`Alerts` hands each alert to every sink; a sink that raises is logged and
counted, and never fails the call that crossed the threshold. Each alert has a
``key`` (limit, account, window, threshold), and a key fires once: budgets remember
it per window (in Redis, for every process at once), so a threshold crossed by a
thousand calls alerts once, not a thousand times.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal, Protocol

from tokenomy._failures import FailureLog
from tokenomy.errors import ConfigError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Alert",
    "AlertSink",
    "Alerts",
    "CallbackSink",
    "LoggingSink",
    "WebhookSink",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)
"""Shares of a limit at which a threshold alert fires (once per window each)."""

AlertKind = Literal["threshold", "anomaly", "forecast"]


@dataclass(frozen=True)
class Alert:
    """One alert.

    Attributes:
        kind: ``"threshold"``, ``"anomaly"`` or ``"forecast"``.
        message: one line a person can act on.
        key: what makes it unique: an alert with a key already fired is not sent.
        limit: the limit's name, when about a limit.
        value: the label value of the limit's account (``"u1"``), or ``""``.
        threshold: the share of the limit crossed (threshold alerts).
        spent_usd: spend in the window (threshold), the hour (anomaly), or
            forecast for the month (forecast).
        limit_usd: the limit, when about a limit.
        at: epoch seconds when it fired.
        details: anything else (z-score, baseline, forecast date…), JSON-ready.
    """

    kind: AlertKind
    message: str
    key: str
    limit: str | None = None
    value: str = ""
    threshold: float | None = None
    spent_usd: float | None = None
    limit_usd: float | None = None
    at: float = field(default_factory=time.time)
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what the webhook posts)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["details"] = dict(self.details)
        return out

    def __str__(self) -> str:
        return self.message


class AlertSink(Protocol):
    """Where alerts go: ``send`` may raise; :class:`Alerts` logs and counts it."""

    def send(self, alert: Alert) -> None: ...


class LoggingSink:
    """Logs each alert (default: ``tokenomy.budget.alerts`` at WARNING).

    Example:
        >>> LoggingSink().send(Alert("threshold", "80% of the daily limit spent", "k"))
    """

    def __init__(self, *, logger: logging.Logger | None = None, level: int = logging.WARNING):
        self.logger = logger or log
        self.level = level

    def send(self, alert: Alert) -> None:
        self.logger.log(self.level, "tokenomy alert (%s): %s", alert.kind, alert.message)


class CallbackSink:
    """Calls ``fn(alert)`` (page someone, post to chat, stop a job…).

    Example:
        >>> seen = []
        >>> CallbackSink(seen.append).send(Alert("anomaly", "spend rate 9x usual", "k"))
        >>> seen[0].kind
        'anomaly'
    """

    def __init__(self, fn: Callable[[Alert], Any]) -> None:
        if not callable(fn):
            raise ConfigError(f"CallbackSink needs a callable; got {fn!r}.")
        self.fn = fn

    def send(self, alert: Alert) -> None:
        self.fn(alert)


class WebhookSink:
    """POSTs each alert as JSON (:meth:`Alert.as_dict`) to ``url`` with httpx.

    Posts go out from one background thread, so a slow endpoint never delays the
    call that crossed a threshold; a failed post is retried ``retries`` times and
    then logged and counted in :attr:`failures`. :meth:`flush` waits for the queue
    to drain (tests, shutdown).

    Args:
        url: the endpoint (``https://hooks.example/...``).
        headers: extra headers (an auth token), e.g. ``{"Authorization": "Bearer …"}``.
        timeout_s: per-request timeout in seconds (default 5).
        retries: further attempts after a failure (default 2).
        client: an ``httpx.Client`` to post with (default: one made here).
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
        client: Any = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"WebhookSink needs an http(s) URL; got {url!r}.")
        if timeout_s <= 0 or retries < 0:
            raise ConfigError(
                f"timeout_s must be > 0 and retries >= 0; got {timeout_s!r}, {retries!r}."
            )
        if client is None:
            from tokenomy._optional import require

            httpx = require("httpx", feature="the webhook alert sink", extra="alerts")
            client = httpx.Client(timeout=timeout_s)
        self.url = url
        self.headers = dict(headers or {})
        self.retries = retries
        self._client = client
        self._queue: queue.Queue[Alert] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failures = FailureLog(log, "an alert webhook", "the alert is dropped")
        self.sent = 0
        """Alerts the endpoint accepted (a 2xx answer)."""

    @property
    def failures(self) -> int:
        """Alerts dropped after every retry failed."""
        return self._failures.count

    def send(self, alert: Alert) -> None:
        self._queue.put(alert)
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._drain, name="tokenomy-alert-webhook", daemon=True
                )
                self._worker.start()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued alert was posted or dropped; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _drain(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=1.0)
            except queue.Empty:
                return
            try:
                self._post(alert)
            finally:
                self._queue.task_done()

    def _post(self, alert: Alert) -> None:
        body = json.dumps(alert.as_dict(), default=str)
        headers = {"content-type": "application/json", **self.headers}
        error: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                response = self._client.post(self.url, content=body, headers=headers)
                response.raise_for_status()
            except Exception as exc:  # the sink's boundary: an alert never fails a call
                error = exc
                continue
            self.sent += 1
            return
        if error is not None:
            self._failures.record(error)


class Alerts:
    """Sends alerts to sinks, each key once, with the thresholds budgets fire at.

    Args:
        sinks: where alerts go (default: a :class:`LoggingSink`).
        thresholds: shares of a limit, in (0, 1], at which budgets alert
            (default 0.5, 0.8, 1.0).

    Example:
        >>> seen = []
        >>> alerts = Alerts(sinks=[CallbackSink(seen.append)])
        >>> alerts.emit(Alert("threshold", "half the daily limit spent", key="day|50%"))
        True
        >>> alerts.emit(Alert("threshold", "half the daily limit spent", key="day|50%"))
        False
        >>> len(seen)
        1
    """

    def __init__(
        self,
        *,
        sinks: Iterable[AlertSink] | None = None,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    ) -> None:
        chosen = list(sinks) if sinks is not None else [LoggingSink()]
        for sink in chosen:
            if not callable(getattr(sink, "send", None)):
                raise ConfigError(f"an alert sink needs a send(alert) method; got {sink!r}.")
        if not thresholds or any(not 0.0 < t <= 1.0 for t in thresholds):
            raise ConfigError(
                f"thresholds must be shares of a limit in (0, 1], e.g. (0.5, 0.8, 1.0); "
                f"got {tuple(thresholds)!r}."
            )
        self.sinks = chosen
        self.thresholds = tuple(sorted(set(float(t) for t in thresholds)))
        self.fired: list[Alert] = []
        """Every alert sent, oldest first (bounded to the last 1,000)."""
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        self._failures = FailureLog(log, "an alert sink", "the alert goes to the other sinks")

    @property
    def failures(self) -> int:
        """Sink errors survived."""
        return self._failures.count

    def emit(self, alert: Alert, *, once: Callable[[str], bool] | None = None) -> bool:
        """Send ``alert`` unless its key fired already; True when sent.

        ``once(key)`` decides instead of this object's own memory when given (a
        budget passes one that remembers keys per window, across processes).
        """
        if once is not None:
            first = once(alert.key)
        else:
            with self._lock:
                first = alert.key not in self._keys
                self._keys.add(alert.key)
        if not first:
            return False
        with self._lock:
            self.fired.append(alert)
            del self.fired[:-1000]
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception as exc:  # a broken sink never fails the call
                self._failures.record(exc)
        return True
