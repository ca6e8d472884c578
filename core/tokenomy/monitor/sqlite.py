"""A usage ledger in an embedded SQLite file, safe across threads and processes.

Each thread (and each process after a fork) opens its own connection; the file is
in WAL mode so readers never block the writer, and writers wait up to
``timeout_s`` for each other instead of failing. Every write is one transaction
with ``INSERT OR IGNORE`` on the record id, so a record is stored whole or not at
all, and a retried write never double counts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tokenomy.errors import ConfigError, LedgerError
from tokenomy.monitor.ledger import BaseLedger
from tokenomy.monitor.records import UsageRecord

__all__ = ["SQLiteLedger"]

_SCHEMA_VERSION = 1
_COLUMNS = (
    "id",
    "timestamp",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost_usd",
    "latency_s",
    "exact",
    "cache_hit",
    "saved_tokens",
    "saved_cost_usd",
    "tags",
    "status",
    "source",
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usage (
    id TEXT PRIMARY KEY,
    timestamp REAL NOT NULL,
    model TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL,
    latency_s REAL,
    exact INTEGER NOT NULL,
    cache_hit INTEGER NOT NULL,
    saved_tokens TEXT NOT NULL,
    saved_cost_usd TEXT NOT NULL,
    tags TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_timestamp ON usage(timestamp);
PRAGMA user_version = {_SCHEMA_VERSION};
"""
_INSERT = (
    f"INSERT OR IGNORE INTO usage ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def _row(r: UsageRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.timestamp,
        r.model,
        r.input_tokens,
        r.output_tokens,
        r.cached_input_tokens,
        r.reasoning_tokens,
        r.cost_usd,
        r.latency_s,
        int(r.exact),
        int(r.cache_hit),
        json.dumps(dict(r.saved_tokens)),
        json.dumps(dict(r.saved_cost_usd)),
        json.dumps(dict(r.tags)),
        r.status,
        r.source,
    )


def _record(row: sqlite3.Row | tuple[Any, ...]) -> UsageRecord:
    (
        rid,
        ts,
        model,
        inp,
        out,
        cached,
        reasoning,
        cost,
        latency,
        exact,
        hit,
        saved,
        saved_cost,
        tags,
        status,
        source,
    ) = row
    return UsageRecord(
        id=rid,
        timestamp=ts,
        model=model,
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
        cost_usd=cost,
        latency_s=latency,
        exact=bool(exact),
        cache_hit=bool(hit),
        saved_tokens=json.loads(saved),
        saved_cost_usd=json.loads(saved_cost),
        tags=json.loads(tags),
        status=status,
        source=source,
    )


class SQLiteLedger(BaseLedger):
    """A ledger stored in one SQLite file.

    Args:
        path: the database file; created (with its parent folder) if missing.
        timeout_s: how long a writer waits for another process's lock (default 30).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "usage.db")
        >>> ledger = SQLiteLedger(path)
        >>> ledger.record(UsageRecord(model="gpt-4o", input_tokens=5, output_tokens=1))
        >>> SQLiteLedger(path).totals().calls
        1
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 30.0) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0; got {timeout_s!r}.")
        self.path = Path(path)
        self._timeout = timeout_s
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"Cannot create the folder for ledger {str(self.path)!r}: {exc}"
            ) from exc
        try:
            conn = self._conn()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != _SCHEMA_VERSION:  # a new file (or an older schema) needs the table
                conn.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, LedgerError) as exc:
            if "locked" in str(exc):
                raise LedgerError(
                    f"Ledger {str(self.path)!r} stayed locked by another writer for more than "
                    f"{timeout_s} s; retry, or raise timeout_s."
                ) from exc
            raise LedgerError(
                f"{str(self.path)!r} is not a usable tokenomy ledger ({exc}). Point SQLiteLedger "
                "at a new file, or move this one aside."
            ) from exc

    def _conn(self) -> sqlite3.Connection:
        pid = os.getpid()
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == pid:
            return cached[1]  # type: ignore[no-any-return]
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=True
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"Cannot open ledger {str(self.path)!r}: {exc}") from exc
        self._local.conn = (pid, conn)
        return conn

    def _append(self, records: list[UsageRecord]) -> None:
        conn = self._conn()
        rows = [_row(r) for r in records]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"Could not write to ledger {str(self.path)!r}: {exc}") from exc

    def _iter(self, since: float | None, until: float | None) -> Iterator[UsageRecord]:
        clauses, params = [], []
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(since)
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(until)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM usage{where} ORDER BY timestamp, id"
        try:
            rows = self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"Could not read ledger {str(self.path)!r}: {exc}") from exc
        for row in rows:
            yield _record(row)

    def _clear(self) -> None:
        try:
            self._conn().execute("DELETE FROM usage")
        except sqlite3.Error as exc:
            raise LedgerError(f"Could not clear ledger {str(self.path)!r}: {exc}") from exc

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM usage").fetchone()[0])

    def check(self) -> None:
        """Run SQLite's integrity check, then the base invariants."""
        status = self._conn().execute("PRAGMA integrity_check").fetchone()[0]
        if status != "ok":
            raise AssertionError(f"ledger integrity check failed: {status}")
        super().check()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        cached = getattr(self._local, "conn", None)
        if cached is not None:
            cached[1].close()
            self._local.conn = None
