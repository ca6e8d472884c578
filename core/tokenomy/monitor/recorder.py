"""Turning one observed LLM call into a :class:`UsageRecord` in a ledger.

Framework adapters (LangChain callbacks, LlamaIndex instrumentation) translate
their events into :meth:`UsageRecorder.record_call`; the rules live here once:

* provider-reported usage is used as is (exact);
* without it, the prompt and the output text are counted with the model's
  tokenizer and the record is marked estimated;
* a call served from a cache spends nothing: its usage (reported or counted) is
  recorded under ``saved_tokens[technique]`` with its price under
  ``saved_cost_usd``, never as spent tokens;
* a ledger that fails to write keeps the records pending and retries on the next
  write, so the user's call never fails and no record is lost while the process
  lives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypedDict

from tokenomy.errors import ConfigError, LedgerError
from tokenomy.monitor.calllog import CallLog
from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.monitor.records import Status, UsageRecord
from tokenomy.tokens.counter import TokenCounter, TokenizerRegistry
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = ["CallDetails", "RecordObserver", "UsageRecorder"]

logger = logging.getLogger(__name__)

_DEFAULT_MAX_PENDING = 100_000


class CallDetails(TypedDict, total=False):
    """What a front door knew of a call beyond its usage record, for observers
    (telemetry); every key is optional."""

    operation: str
    """``"chat"`` or ``"text_completion"``."""
    request_model: str | None
    provider: str | None
    max_tokens: int | None
    temperature: float | None
    finish_reasons: list[str]
    trace: Mapping[str, Any] | None
    """The pipeline's per-stage trace (``Trace.as_dict()``)."""
    route: Mapping[str, Any] | None
    """The routing decision (model, reason, success, attempts)."""
    prompt: Any
    """The messages or prompt sent (exported only by observers that opt in)."""
    completion: str | None
    error: BaseException


class RecordObserver(Protocol):
    """Sees every record a :class:`UsageRecorder` writes (telemetry exporters), with
    the call's :class:`CallDetails`."""

    def on_record(self, record: UsageRecord, details: Mapping[str, Any]) -> None: ...


class UsageRecorder:
    """Builds usage records for observed LLM calls and writes them to a ledger.

    Args:
        ledger: where records go (default: a new :class:`InMemoryLedger`).
        prices: price table for costs (default: the bundled one).
        registry: tokenizer registry for estimates (default: the process-wide one).
        tags: tags added to every record (a call's own tags win).
        source: label stored on each record, e.g. ``"langchain"``.
        max_pending: records kept in memory while the ledger fails (default 100,000).
        observers: see every record after it is written (e.g. a
            :class:`tokenomy.telemetry.Telemetry`); one that raises is logged once and
            never fails the call.
        call_log: also append each call to this audit-format JSON Lines log
            (:class:`~tokenomy.monitor.CallLog`; default None).
    """

    def __init__(
        self,
        *,
        ledger: BaseLedger | None = None,
        prices: PriceTable | None = None,
        registry: TokenizerRegistry | None = None,
        tags: Mapping[str, str] | None = None,
        source: str = "core",
        max_pending: int = _DEFAULT_MAX_PENDING,
        observers: Sequence[RecordObserver] = (),
        call_log: CallLog | None = None,
    ) -> None:
        if ledger is not None and not isinstance(ledger, BaseLedger):
            raise ConfigError(
                f"ledger must be a tokenomy ledger (InMemoryLedger, SQLiteLedger, …); got "
                f"{type(ledger).__name__}."
            )
        if max_pending <= 0:
            raise ConfigError(f"max_pending must be > 0; got {max_pending!r}.")
        self.ledger: BaseLedger = ledger if ledger is not None else InMemoryLedger()
        self.prices = prices or PriceTable.default()
        self._registry = registry
        self.tags: dict[str, str] = {str(k): str(v) for k, v in (tags or {}).items()}
        self.source = source
        self.call_log = call_log
        self._max_pending = max_pending
        self._pending: list[UsageRecord] = []
        self._lock = threading.Lock()
        self.dropped = 0
        """Records dropped because the ledger failed for longer than ``max_pending`` allows."""
        self.observers: list[RecordObserver] = list(observers)
        self._observer_errors: set[tuple[int, str]] = set()

    @property
    def pending(self) -> int:
        """Records waiting for a failed ledger to come back."""
        return len(self._pending)

    def record_call(
        self,
        *,
        model: str | None,
        usage: TokenUsage | None = None,
        prompt: str | Sequence[Mapping[str, Any]] | None = None,
        output_text: str | None = None,
        latency_s: float | None = None,
        tags: Mapping[str, str] | None = None,
        cache_hit: str | None = None,
        status: Status = "ok",
        tools: Sequence[Mapping[str, Any]] | None = None,
        timestamp: float | None = None,
        details: Mapping[str, Any] | None = None,
        price_factor: float = 1.0,
    ) -> UsageRecord:
        """Record one call and return the record.

        Args:
            model: the model that served (or would have served) the call.
            usage: provider-reported usage; None to count ``prompt``/``output_text``.
            prompt: the prompt text or OpenAI-format messages, for estimates.
            output_text: the generated text, for estimates.
            cache_hit: the technique that served the call from a cache (e.g.
                ``"llm_cache"``), or None for a real model call.
            status: ``"error"`` for a failed call (recorded with what it reported).
            details: what else the front door knows of the call, for the observers
                (see :class:`RecordObserver`).
            price_factor: the share of the list price the provider billed (0.5 for
                a Batch API job); the record's cost is the list cost times it.
        """
        exact = usage is not None
        if usage is None:
            usage = self._estimate(model, prompt, output_text, tools)
        cost = self.prices.cost(model, usage) if model else None
        if cost is not None and price_factor != 1.0:
            cost = cost.scaled(price_factor)
        fields: dict[str, Any] = {
            "latency_s": latency_s,
            "tags": {**self.tags, **(tags or {})},
            "status": status,
            "source": self.source,
            "exact": exact,
        }
        if timestamp is not None:
            fields["timestamp"] = timestamp
        if cache_hit:
            total = usage.total_tokens
            record = UsageRecord(
                model=model,
                cost_usd=0.0,
                cache_hit=True,
                saved_tokens={cache_hit: total},
                saved_cost_usd={cache_hit: cost.total_usd} if cost is not None else {},
                **fields,
            )
        else:
            record = UsageRecord.from_usage(
                model, usage, cost_usd=None if cost is None else cost.total_usd, **fields
            )
        self.write(record)
        if self.observers:
            self._notify(record, details or {})
        if self.call_log is not None:  # never raises: a failed line is counted
            self.call_log.write(record, prompt=prompt, output_text=output_text, tools=tools)
        return record

    def _notify(self, record: UsageRecord, details: Mapping[str, Any]) -> None:
        for observer in self.observers:
            try:
                observer.on_record(record, details)
            except Exception as exc:  # an exporter must never fail the user's call
                key = (id(observer), type(exc).__name__)
                if key not in self._observer_errors:
                    self._observer_errors.add(key)
                    logger.warning(
                        "tokenomy: usage observer %s failed (%r); logged once per error type.",
                        type(observer).__name__,
                        exc,
                    )

    def write(self, record: UsageRecord) -> None:
        """Write ``record`` (and any pending ones); keep them pending if the ledger fails."""
        with self._lock:
            batch = [*self._pending, record]
            try:
                self.ledger.record_many(batch)
            except (LedgerError, OSError) as exc:
                overflow = len(batch) - self._max_pending
                if overflow > 0:
                    self.dropped += overflow
                    batch = batch[overflow:]
                self._pending = batch
                logger.warning(
                    "tokenomy: the usage ledger failed (%s); %d record(s) kept in memory and "
                    "retried on the next call",
                    exc,
                    len(batch),
                )
            else:
                self._pending = []

    def _estimate(
        self,
        model: str | None,
        prompt: str | Sequence[Mapping[str, Any]] | None,
        output_text: str | None,
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> TokenUsage:
        counter = TokenCounter(model, registry=self._registry)
        if prompt is None:
            inp = 0
        elif isinstance(prompt, str):
            inp = counter.count(prompt)
        else:
            inp = counter.count_messages(prompt, tools=tools)
        out = counter.count(output_text) if output_text else 0
        return TokenUsage(input_tokens=inp, output_tokens=out)
