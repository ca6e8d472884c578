"""`tokenomy audit usage.db`: a SQLite usage ledger is audited as a workload."""

import sqlite3

import pytest

from tokenomy.audit import run_audit
from tokenomy.cli import main
from tokenomy.errors import WorkloadError
from tokenomy.monitor import SQLiteLedger, UsageRecord
from tokenomy.tokens import TokenUsage


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "usage.db"
    ledger = SQLiteLedger(path)
    for i in range(6):
        ledger.record(
            UsageRecord.from_usage(
                "gpt-4o" if i % 2 else "gpt-4o-mini",
                TokenUsage(1000 * (i + 1), 100),
                tags={"user": f"u{i % 3}", "feature": "faq"},
                timestamp=1_800_000_000 + 60 * i,
                latency_s=0.5,
            )
        )
    ledger.close()
    return path


def test_the_ledger_is_the_same_spend_report(ledger_path):
    report = run_audit(ledger_path, plugins=["exact_cache", "routing"])
    ledger = SQLiteLedger(ledger_path)
    assert report.totals.calls == 6 and report.totals.total_tokens == ledger.totals().total_tokens
    assert report.totals.cost_usd == pytest.approx(ledger.totals().cost_usd)
    assert {row.group["user"] for row in report.by_tag["user"]} == {"u0", "u1", "u2"}
    assert all(s.calls_affected == 0 for s in report.savings)  # no text: nothing to judge
    assert "6 of 6 calls carry no prompt text" in report.notes[0]


def test_the_command_audits_a_ledger(ledger_path, capsys, tmp_path):
    code = main(["audit", str(ledger_path), "--no-html", "--only", "exact_cache", "--no-progress"])
    assert code == 0 and "6 calls" in capsys.readouterr().out


def test_a_sqlite_file_that_is_no_ledger_says_what_to_pass(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE things (x)")
    with pytest.raises(WorkloadError, match="not a tokenomy ledger"):
        run_audit(path)
