"""The gateway's audit columns: the de-duplication window and the Batch API discount."""

import json

from tokenomy.audit import load_workload, run_audit
from tokenomy.audit.core import _price_call
from tokenomy.audit.gateway import BatchApiPlugin, DedupWindowPlugin
from tokenomy.audit.plugins import AuditContext
from tokenomy.tokens import PriceTable, TokenCounter


def call(i, question, ts, feature="faq", tenant=None):
    tags = {"feature": feature, **({"tenant": tenant} if tenant else {})}
    return {
        "id": f"c{i}",
        "timestamp": ts,
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": question}],
        "response": "An answer of a few words.",
        "tags": tags,
    }


def context_of(tmp_path, lines):
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    prices = PriceTable.default()
    counter = TokenCounter("gpt-4o")
    return AuditContext(
        [_price_call(c, counter, prices) for c in load_workload(path).calls], prices
    )


def test_only_repeats_within_the_window_and_the_same_tenant_count(tmp_path):
    t = 1_793_000_000
    context = context_of(
        tmp_path,
        [
            call(1, "Same?", t),
            call(2, "Same?", t + 30),  # within 60 s of the previous one
            call(3, "Same?", t + 200),  # too late
            call(4, "Same?", t + 210, tenant="other"),  # another tenant
            call(5, "Other?", t + 215),
        ],
    )
    estimate = DedupWindowPlugin(window_s=60).estimate(context)
    assert estimate.calls_affected == 1
    assert estimate.cost_saved_usd == context.calls[1].cost_usd


def test_the_batch_discount_applies_to_non_interactive_features_only(tmp_path):
    t = 1_793_000_000
    context = context_of(
        tmp_path,
        [
            call(1, "a", t, "classify"),
            call(2, "b", t, "support"),
            call(3, "c", t, "nightly_report"),
        ],
    )
    by_name = BatchApiPlugin().estimate(context)
    assert by_name.calls_affected == 2
    expected = (context.calls[0].cost_usd + context.calls[2].cost_usd) * 0.5
    assert abs(by_name.cost_saved_usd - expected) < 1e-12
    assert "support" in by_name.findings[0]
    listed = BatchApiPlugin(features=["support"]).estimate(context)
    assert listed.calls_affected == 1


def test_both_columns_run_on_the_bundled_sample():
    report = run_audit(plugins=["dedup_window", "batch_api"], top=0)
    window, batch = report.savings
    assert window.name == "dedup_window" and batch.name == "batch_api"
    assert batch.calls_affected > 0  # the sample's "classify" feature


def test_the_prefix_layout_column_counts_what_moving_a_stamp_makes_cacheable(tmp_path):
    from tokenomy.audit.gateway import PrefixLayoutPlugin

    t = 1_793_000_000
    static = "You are a careful assistant. " * 400  # ~2,400 tokens
    lines = []
    for i in range(4):
        row = call(i, f"question {i}", t + 10 * i)
        stamp = f"Current time: 2026-12-05T02:{i:02d}:00Z\n"
        row["messages"] = [{"role": "system", "content": stamp + static}, *row["messages"]]
        lines.append(row)
    estimate = PrefixLayoutPlugin().estimate(context_of(tmp_path, lines))
    assert estimate.metrics["prefix_hit_share_as_sent"] == 0.0
    assert estimate.metrics["prefix_hit_share_laid_out"] > 0.5
    assert estimate.calls_affected == 3 and estimate.cost_saved_usd > 0


def test_shared_context_counts_calls_with_the_same_context_within_the_wait(tmp_path):
    from tokenomy.audit.gateway import SharedContextPlugin

    t = 1_793_000_000
    document = "The Amazon is a river in South America. " * 100
    lines = []
    for i, at in enumerate((t, t + 0.01, t + 0.02, t + 5)):  # the last one: too late
        row = call(i, f"question {i}", at)
        row["messages"] = [{"role": "system", "content": document}, *row["messages"]]
        lines.append(row)
    context = context_of(tmp_path, lines)
    estimate = SharedContextPlugin(wait_s=0.05).estimate(context)
    assert estimate.calls_affected == 2
    assert 0 < estimate.input_tokens_saved < 2 * context.calls[0].usage.input_tokens
    assert SharedContextPlugin(wait_s=0.001).estimate(context).calls_affected == 0
