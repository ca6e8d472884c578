"""examples/usage_to_audit.py: a ledger and a call log written by the LangChain
handler become `tokenomy audit` reports."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "usage_to_audit.py"


def test_the_ledger_and_the_call_log_are_audited():
    pytest.importorskip("langchain_core")
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    ledger, log = out.stdout.split("--- tokenomy audit calls.jsonl")
    assert "e-mail redacted in the call log: True" in ledger
    assert "4 calls" in ledger and "alice      2" in ledger and "$0.0156" in ledger
    assert "Note: 4 of 4 calls carry no prompt text" in ledger
    assert "x2 on gpt-4o: 'How do I reset my password?'" in log and "Note:" not in log
