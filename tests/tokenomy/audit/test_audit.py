import pytest

from tokenomy.audit import (
    SavingsEstimate,
    audit_calls,
    available_plugins,
    load_workload,
    register_audit_plugin,
    render_html,
    render_text,
    run_audit,
)
from tokenomy.audit import registry as plugin_registry
from tokenomy.errors import UnknownNameError
from tokenomy.tokens import count_tokens


def test_tokens_and_costs_per_call(workload):
    report = run_audit(workload)
    by_id = {a.call.id: a for a in report.calls}
    reported = by_id["c3"]
    assert (reported.usage.input_tokens, reported.exact) == (1234, True)
    counted = by_id["c0"]
    assert not counted.exact
    assert (
        counted.usage.input_tokens
        == count_tokens(list(counted.call.messages), model="gpt-4o").tokens
    )
    assert counted.cost_usd == pytest.approx(
        counted.usage.input_tokens * 2.5e-6 + counted.usage.output_tokens * 10e-6
    )
    assert report.unpriced_models == {"mystery-model": 1}
    assert report.totals.calls == 40
    assert sum(s.calls for s in report.by_model) == 40
    assert {s.group["user"] for s in report.by_tag["user"]} == {"u0", "u1", "u2"}
    assert report.top_requests[0].cost_usd == max(a.cost_usd or 0 for a in report.calls)


def test_builtin_plugins_find_the_waste(workload):
    report = run_audit(workload)
    savings = {s.name: s for s in report.savings}
    exact = savings["exact_cache"]
    assert exact.calls_affected == 18  # 20 identical questions on gpt-4o: 1 miss + 19 hits, but
    # c3 carries other usage and c5 another model, so they are distinct requests: 20 - 2 = 18
    caching = savings["prompt_caching"]
    assert caching.cost_saved_usd > 0 and caching.input_tokens_saved == 0
    assert any("system prompt" in f for f in caching.findings)
    caps = savings["output_caps"]
    assert any("max_tokens is 2,048" in f for f in caps.findings)


def test_plugins_are_pluggable_and_failures_contained(workload):
    class Fixed:
        name, title = "fixed", "Fixed saving"

        def estimate(self, context):
            return SavingsEstimate(self.name, self.title, len(context.calls), 1, 2, 0.5)

    class Broken:
        name, title = "broken", "Broken"

        def estimate(self, context):
            raise RuntimeError("bug")

    saved = dict(plugin_registry._registry)
    try:
        register_audit_plugin("fixed", Fixed)
        register_audit_plugin("broken", Broken)
        names = available_plugins()
        assert names[:9] == [
            "exact_cache",
            "semantic_cache",
            "semantic_cache_shared",
            "prompt_caching",
            "compression",
            "context_window",
            "few_shot",
            "routing",
            "output_caps",
        ]
        assert names[-2:] == ["fixed", "broken"]
        report = run_audit(workload, plugins=["fixed", "broken"])
        fixed, broken = report.savings
        assert (fixed.calls_affected, fixed.cost_saved_usd) == (40, 0.5)
        assert broken.findings[0].startswith("failed")
        with pytest.raises(UnknownNameError, match="available: exact_cache"):
            run_audit(workload, plugins=["nope"])
    finally:
        plugin_registry._registry.clear()
        plugin_registry._registry.update(saved)


def test_reports_render(workload):
    report = audit_calls(load_workload(workload))
    text = render_text(report, html_path="r.html")
    for needle in (
        "By model",
        "By user",
        "Most expensive requests",
        "What each technique",
        "Skipped lines",
        "line 41",
        "mystery-model",
        "n/a",
    ):
        assert needle in text
    html = render_html(report)
    assert html.startswith("<!doctype html>") and html.count("<svg") >= 3
    assert "line 42" in html and "http" not in html.split("<body>")[1]
    # one inline script of ours (sorting, filtering): nothing external, nothing from the data
    assert html.count("<script") == 1 and "src=" not in html


def test_dated_aliases_join_their_models_row_and_tiny_costs_show_their_digits(tmp_path):
    import json

    from tokenomy.audit import run_audit
    from tokenomy.audit.text import usd

    lines = [
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "response": "ok"}
        for model in ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini")
    ]
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    report = run_audit(path, plugins=[])
    assert [(dict(s.group), s.calls) for s in report.by_model] == [({"model": "gpt-4o-mini"}, 3)]
    assert usd(0.000042) == "$0.000042" and usd(0.0157) == "$0.0157" and usd(0) == "$0.00"
    assert usd(1234.5) == "$1,234.50"
