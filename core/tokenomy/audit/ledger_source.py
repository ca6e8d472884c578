"""A SQLite usage ledger as a workload: ``tokenomy audit usage.db``.

A ledger written by the LangChain or LlamaIndex usage handlers
(``SQLiteLedger(path)``) holds one record per call: model, tokens, cost, tags,
time, latency, and no text. Each record becomes a call with its recorded usage
(exact when the provider reported it) and an empty prompt, so the spend tables
(by model, tag, time, the most expensive calls) are the same report; the savings
columns, which need the prompts, skip text-less calls and say so. A call log with
text (``CallLog(path, include_text=True)``) feeds them too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

from tokenomy.audit.workload import Workload, WorkloadCall, load_workload
from tokenomy.errors import LedgerError, WorkloadError

__all__ = ["is_sqlite", "load_ledger", "load_source"]

_MAGIC = b"SQLite format 3\x00"


def load_source(path: str | Path, *, progress: Callable[[int], None] | None = None) -> Workload:
    """A workload file (JSON Lines, gzipped or not) or a SQLite usage ledger."""
    p = Path(path)
    return load_ledger(p) if is_sqlite(p) else load_workload(p, progress=progress)


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a SQLite database (by its 16-byte header)."""
    try:
        with path.open("rb") as f:
            return f.read(len(_MAGIC)) == _MAGIC
    except OSError:
        return False


def load_ledger(path: Path) -> Workload:
    """The records of the SQLite ledger at ``path``, as a workload of text-less calls."""
    from tokenomy.monitor.sqlite import SQLiteLedger

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as probe:
            tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        raise WorkloadError(f"Cannot read the SQLite file {str(path)!r}: {exc}") from exc
    if "usage" not in tables:
        raise WorkloadError(
            f"{str(path)!r} is a SQLite file but not a tokenomy ledger (no 'usage' table; it "
            f"has {sorted(tables) or 'no tables'}). Pass a ledger written by SQLiteLedger, or a "
            "JSON Lines workload."
        )
    try:
        ledger = SQLiteLedger(path)
        records = sorted(ledger.records(), key=lambda r: r.timestamp)
        ledger.close()
    except (LedgerError, sqlite3.Error) as exc:
        raise WorkloadError(f"Cannot read the ledger {str(path)!r}: {exc}") from exc
    calls = tuple(
        WorkloadCall(
            line=i,
            id=r.id,
            timestamp=r.timestamp or None,
            model=r.model or "unattributed",
            messages=None,
            prompt="",
            response=None,
            usage=r.usage,
            tags=MappingProxyType(dict(r.tags)),
            latency_s=r.latency_s,
        )
        for i, r in enumerate(records, 1)
    )
    if not calls:
        raise WorkloadError(f"The ledger {str(path)!r} holds no record yet.")
    return Workload(str(path), calls, ())
