"""The usage ledger: where every LLM call's record is kept and summed."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence

from tokenomy.errors import ConfigError
from tokenomy.monitor.aggregate import Bucket, aggregate, matches
from tokenomy.monitor.records import UsageRecord, UsageSummary

__all__ = ["BaseLedger", "InMemoryLedger"]


class BaseLedger(ABC):
    """Stores :class:`UsageRecord` objects and sums them by any tag and time bucket.

    Subclasses implement ``_append``, ``_iter`` and ``_clear``; recording validates
    the input first. Recording a record whose ``id`` is already present is a no-op,
    so a retried write never double counts.
    """

    def record(self, record: UsageRecord) -> None:
        """Add one record."""
        self.record_many((record,))

    def record_many(self, records: Iterable[UsageRecord]) -> None:
        """Add several records in one write."""
        batch = list(records)
        for r in batch:
            if not isinstance(r, UsageRecord):
                raise ConfigError(
                    f"A ledger stores UsageRecord objects; got {type(r).__name__}. Build one with "
                    "UsageRecord(model=..., input_tokens=..., output_tokens=...)."
                )
        if batch:
            self._append(batch)

    def records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        where: Mapping[str, str] | None = None,
    ) -> Iterator[UsageRecord]:
        """Records with ``since <= timestamp < until`` matching every ``where`` pair."""
        for r in self._iter(since, until):
            if matches(r, where):
                yield r

    def aggregate(
        self,
        by: Sequence[str] = ("model",),
        *,
        bucket: Bucket | None = None,
        since: float | None = None,
        until: float | None = None,
        where: Mapping[str, str] | None = None,
    ) -> list[UsageSummary]:
        """Totals per group of ``by`` (fields or tag names) and optional time bucket."""
        return aggregate(self.records(since=since, until=until, where=where), by, bucket=bucket)

    def totals(self, **filters: float | Mapping[str, str] | None) -> UsageSummary:
        """One summary over every record (accepts ``since``/``until``/``where``)."""
        rows = self.aggregate((), **filters)  # type: ignore[arg-type]
        return rows[0] if rows else UsageSummary.empty()

    def clear(self) -> None:
        """Delete every record."""
        self._clear()

    def __len__(self) -> int:
        return sum(1 for _ in self._iter(None, None))

    def check(self) -> None:
        """Verify invariants (unique ids, valid records); raise AssertionError if broken."""
        seen: set[str] = set()
        for r in self._iter(None, None):
            if r.id in seen:
                raise AssertionError(f"duplicate record id {r.id}")
            seen.add(r.id)

    @abstractmethod
    def _append(self, records: list[UsageRecord]) -> None: ...

    @abstractmethod
    def _iter(self, since: float | None, until: float | None) -> Iterator[UsageRecord]: ...

    @abstractmethod
    def _clear(self) -> None: ...


class InMemoryLedger(BaseLedger):
    """A thread-safe ledger held in process memory.

    Args:
        max_records: keep only the newest ``max_records`` (default None, no bound).

    Example:
        >>> ledger = InMemoryLedger()
        >>> ledger.record(UsageRecord(model="gpt-4o", input_tokens=10, output_tokens=2))
        >>> ledger.totals().total_tokens
        12
    """

    def __init__(self, *, max_records: int | None = None) -> None:
        if max_records is not None and max_records <= 0:
            raise ConfigError(f"max_records must be > 0 or None; got {max_records!r}.")
        self._max = max_records
        self._records: dict[str, UsageRecord] = {}
        self._lock = threading.Lock()

    def _append(self, records: list[UsageRecord]) -> None:
        with self._lock:
            for r in records:
                self._records.setdefault(r.id, r)
            if self._max is not None:
                while len(self._records) > self._max:
                    del self._records[next(iter(self._records))]

    def _iter(self, since: float | None, until: float | None) -> Iterator[UsageRecord]:
        with self._lock:
            snapshot = list(self._records.values())
        for r in snapshot:
            if (since is None or r.timestamp >= since) and (until is None or r.timestamp < until):
                yield r

    def _clear(self) -> None:
        with self._lock:
            self._records = {}

    def __len__(self) -> int:
        return len(self._records)
