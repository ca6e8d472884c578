import pytest

from tokenomy.errors import ConfigError, LedgerError
from tokenomy.monitor import InMemoryLedger, UsageRecorder
from tokenomy.tokens import TokenUsage, count_tokens


class FlakyLedger(InMemoryLedger):
    def __init__(self):
        super().__init__()
        self.down = True

    def _append(self, records):
        if self.down:
            raise LedgerError("disk full")
        super()._append(records)


def test_reported_usage_is_exact_and_priced():
    rec = UsageRecorder().record_call(
        model="gpt-4o", usage=TokenUsage(1000, 100), tags={"user": "u"}
    )
    assert rec.exact and rec.input_tokens == 1000
    assert rec.cost_usd == pytest.approx(0.0035)


def test_missing_usage_is_counted_and_marked_estimated():
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    rec = UsageRecorder().record_call(model="gpt-4o", prompt=msgs, output_text="Paris.")
    assert not rec.exact
    assert rec.input_tokens == count_tokens(msgs, model="gpt-4o").tokens
    assert rec.output_tokens == count_tokens("Paris.", model="gpt-4o").tokens


def test_cache_hit_is_saved_not_spent():
    recorder = UsageRecorder()
    rec = recorder.record_call(model="gpt-4o", usage=TokenUsage(1000, 100), cache_hit="llm_cache")
    assert (rec.input_tokens, rec.output_tokens, rec.cost_usd) == (0, 0, 0.0)
    assert rec.cache_hit and rec.saved_tokens == {"llm_cache": 1100}
    assert rec.saved_cost_usd["llm_cache"] == pytest.approx(0.0035)
    totals = recorder.ledger.totals()
    assert totals.total_tokens == 0 and totals.total_saved_tokens == 1100


def test_unknown_model_has_no_cost_but_is_kept():
    rec = UsageRecorder().record_call(model=None, usage=TokenUsage(5, 5))
    assert rec.cost_usd is None and rec.model is None


def test_failed_ledger_keeps_records_pending_and_retries():
    ledger = FlakyLedger()
    recorder = UsageRecorder(ledger=ledger)
    recorder.record_call(model="gpt-4o", usage=TokenUsage(1, 1))
    recorder.record_call(model="gpt-4o", usage=TokenUsage(2, 2))
    assert recorder.pending == 2 and len(ledger) == 0
    ledger.down = False
    recorder.record_call(model="gpt-4o", usage=TokenUsage(3, 3))
    assert recorder.pending == 0 and len(ledger) == 3


def test_pending_is_bounded():
    ledger = FlakyLedger()
    recorder = UsageRecorder(ledger=ledger, max_pending=2)
    for _ in range(5):
        recorder.record_call(model="gpt-4o", usage=TokenUsage(1, 1))
    assert recorder.pending == 2 and recorder.dropped == 3


def test_static_tags_are_merged_and_call_tags_win():
    recorder = UsageRecorder(tags={"app": "demo", "user": "default"})
    rec = recorder.record_call(model="gpt-4o", usage=TokenUsage(1, 1), tags={"user": "u9"})
    assert dict(rec.tags) == {"app": "demo", "user": "u9"}


def test_bad_ledger_argument():
    with pytest.raises(ConfigError, match="ledger must be"):
        UsageRecorder(ledger=[])  # type: ignore[arg-type]
