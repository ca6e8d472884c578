import multiprocessing as mp
import sqlite3
import threading

import pytest

from tokenomy.errors import ConfigError, LedgerError
from tokenomy.monitor import InMemoryLedger, SQLiteLedger, UsageRecord
from tokenomy.tokens import UNATTRIBUTED

DAY = 86400.0
T0 = 1_790_000_000.0  # a Monday? not needed: buckets are checked relative to each other


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request, tmp_path):
    if request.param == "memory":
        return InMemoryLedger()
    return SQLiteLedger(tmp_path / "usage.db")


def _rec(model="gpt-4o", inp=10, out=5, ts=T0, cost=0.001, **kw):
    return UsageRecord(
        model=model, input_tokens=inp, output_tokens=out, timestamp=ts, cost_usd=cost, **kw
    )


def test_records_round_trip(ledger):
    r = _rec(
        tags={"user": "u1"},
        saved_tokens={"llm_cache": 7},
        saved_cost_usd={"llm_cache": 0.5},
        cache_hit=True,
        exact=False,
        latency_s=0.25,
        status="error",
        source="langchain",
    )
    ledger.record(r)
    assert list(ledger.records()) == [r]
    ledger.check()


def test_same_id_is_recorded_once(ledger):
    r = _rec()
    ledger.record(r)
    ledger.record(r)
    assert len(ledger) == 1


def test_aggregate_by_model_and_tag_keeps_unattributed(ledger):
    ledger.record_many(
        [
            _rec("gpt-4o", 10, 1, tags={"user": "a"}),
            _rec("gpt-4o", 20, 2, tags={"user": "b"}),
            _rec(None, 5, 5, cost=None, tags={"user": "a"}),
        ]
    )
    by_model = {s.group["model"]: s for s in ledger.aggregate(("model",))}
    assert by_model["gpt-4o"].input_tokens == 30
    assert by_model[UNATTRIBUTED].calls == 1
    assert by_model[UNATTRIBUTED].unpriced_calls == 1
    by_both = {
        (s.group["model"], s.group["user"]): s.calls for s in ledger.aggregate(("model", "user"))
    }
    assert by_both == {("gpt-4o", "a"): 1, ("gpt-4o", "b"): 1, (UNATTRIBUTED, "a"): 1}
    missing_tag = ledger.aggregate(("feature",))
    assert missing_tag[0].group == {"feature": UNATTRIBUTED} and missing_tag[0].calls == 3
    assert ledger.totals().total_tokens == 43


def test_time_buckets_and_filters(ledger):
    ledger.record_many([_rec(ts=T0 + i * 3600) for i in range(50)])
    days = ledger.aggregate((), bucket="day")
    assert sum(s.calls for s in days) == 50
    assert len(days) in (3, 4)
    assert [s.bucket_start for s in days] == sorted(s.bucket_start for s in days)
    assert ledger.totals(since=T0 + 10 * 3600, until=T0 + 20 * 3600).calls == 10
    assert ledger.aggregate((), where={"model": "gpt-4o"})[0].calls == 50
    with pytest.raises(ConfigError, match="valid buckets"):
        ledger.aggregate((), bucket="fortnight")


def test_empty_ledger_totals(ledger):
    assert ledger.totals().calls == 0


def test_records_must_be_records(ledger):
    with pytest.raises(ConfigError, match="UsageRecord"):
        ledger.record({"model": "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"status": "weird"}, "status"),
        ({"tags": ["a"]}, "tags must be a mapping"),
        ({"saved_tokens": {"x": "many"}}, "must be a number"),
    ],
)
def test_invalid_records_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        UsageRecord(model="m", **kwargs)


def test_clear(ledger):
    ledger.record(_rec())
    ledger.clear()
    assert len(ledger) == 0


def test_in_memory_bound_keeps_newest():
    ledger = InMemoryLedger(max_records=3)
    recs = [_rec(ts=T0 + i) for i in range(5)]
    ledger.record_many(recs)
    assert list(ledger.records()) == recs[2:]


def test_sqlite_survives_reopen_and_threads(tmp_path):
    path = tmp_path / "sub" / "usage.db"
    ledger = SQLiteLedger(path)

    def work(k):
        for i in range(50):
            ledger.record(_rec(tags={"thread": str(k)}, ts=T0 + i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    again = SQLiteLedger(path)
    assert len(again) == 200
    again.check()


def _writer(path, k, n):
    ledger = SQLiteLedger(path)
    for i in range(n):
        ledger.record(
            UsageRecord(
                model="gpt-4o",
                input_tokens=1,
                output_tokens=1,
                tags={"proc": str(k)},
                timestamp=T0 + i,
            )
        )


def test_sqlite_is_safe_across_processes(tmp_path):
    path = tmp_path / "usage.db"
    SQLiteLedger(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), k, 200)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ledger = SQLiteLedger(path)
    assert len(ledger) == 800
    assert {s.group["proc"]: s.calls for s in ledger.aggregate(("proc",))} == {
        str(k): 200 for k in range(4)
    }
    ledger.check()


def test_sqlite_rejects_a_file_that_is_not_a_ledger(tmp_path):
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="not a usable tokenomy ledger"):
        SQLiteLedger(path)


def test_sqlite_write_failure_is_a_ledger_error(tmp_path):
    ledger = SQLiteLedger(tmp_path / "usage.db")
    conn = sqlite3.connect(tmp_path / "usage.db")
    conn.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    slow = SQLiteLedger(tmp_path / "usage.db", timeout_s=0.2)
    with pytest.raises(LedgerError, match="Could not write"):
        slow.record(_rec())
    conn.rollback()
    slow.record(_rec())
    assert len(ledger) == 1
