"""The model-heavy columns on a sample (tokenomy.audit.sampling) and all columns combined
without double counting (tokenomy.audit.combine), on small workloads and fake columns."""

import json
import random

import pytest

from tokenomy.audit import SavingsEstimate, audit_calls, load_workload, render_html, render_text
from tokenomy.audit import registry as plugin_registry
from tokenomy.audit.combine import combine
from tokenomy.audit.plugins import AuditContext, CallSavings
from tokenomy.audit.sampling import Sampling, draw_sample, scale_estimate, unit_of
from tokenomy.cli import main
from tokenomy.errors import ConfigError

FEATURES = ("support", "rag", "classify")
MODELS = ("gpt-4o", "gpt-4o-mini")


def _workload(tmp_path, n=3000, seed=1):
    """n calls of 60 users over 3 features x 2 models; questions repeat per user."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        user = rng.randrange(60)
        feature = FEATURES[user % 3]
        lines.append(
            {
                "id": f"c{i}",
                "timestamp": 1_793_000_000 + 30 * i,
                "model": MODELS[(user // 3) % 2],
                "messages": [
                    {"role": "user", "content": f"question {rng.randrange(25)} {feature}"}
                ],
                "response": "ok",
                "usage": {"prompt_tokens": 100 + rng.randrange(900), "completion_tokens": 50},
                "tags": {"user": f"u{user}", "feature": feature},
            }
        )
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    return load_workload(path)


class RepeatCache:
    """A fake model-heavy column: a per-user cache of exact questions (stateful)."""

    name, title, sampled = "fake_cache", "Fake per-user cache", True

    def estimate(self, context):
        seen, per_call, cost = set(), CallSavings(), 0.0
        for c in sorted(context.calls, key=lambda c: c.call.timestamp):
            key = (c.call.tags["user"], c.call.last_user_text)
            if key in seen:
                per_call.add_whole(c)
                cost += c.cost_usd
            seen.add(key)
        n = len(per_call)
        return SavingsEstimate(self.name, self.title, n, 0, 0, cost, ("f",), per_call=per_call)


@pytest.fixture
def fake_heavy():
    saved = dict(plugin_registry._registry)
    plugin_registry.register_audit_plugin("fake_cache", RepeatCache)
    yield
    plugin_registry._registry.clear()
    plugin_registry._registry.update(saved)


def test_call_savings_add_up_per_line():
    s = CallSavings()
    s.add(3, input_tokens=10, cost_usd=0.5)
    s.add(3, output_tokens=4, cost_usd=0.25)
    s.add(9, cost_usd=1.0)
    assert s.totals() == {3: (10, 4, 0.75), 9: (0, 0, 1.0)}
    assert len(s) == 3


def test_sample_keeps_units_whole_and_every_stratum(tmp_path):
    calls = audit_calls(_workload(tmp_path), plugins=[]).calls
    sample = draw_sample(calls, Sampling(above=0, calls=600, seed=3))
    assert 400 < len(sample.calls) < 900
    chosen = {c.call.line for c in sample.calls}
    units = {unit_of(s) for s in sample.calls}
    for c in calls:  # a unit is in or out with all its calls
        assert (unit_of(c) in units) == (c.call.line in chosen)
    assert len(sample.strata) == 6 and all(n >= 2 for _, n in sample.strata)
    again = draw_sample(calls, Sampling(above=0, calls=600, seed=3))
    assert [c.call.line for c in again.calls] == [c.call.line for c in sample.calls]


def test_intervals_cover_the_exact_value_about_as_often_as_stated(tmp_path):
    calls = audit_calls(_workload(tmp_path), plugins=[]).calls
    context = AuditContext(calls, None)  # the fake column needs no prices
    exact = RepeatCache().estimate(context).cost_saved_usd
    inside = 0
    for seed in range(40):
        sample = draw_sample(calls, Sampling(above=0, calls=500, seed=seed))
        est = scale_estimate(RepeatCache().estimate(AuditContext(sample.calls, None)), sample)
        low, high = est.interval_usd
        assert low < est.cost_saved_usd < high and est.sampled_calls == len(sample.calls)
        inside += low <= exact <= high
    assert inside >= 34  # 95% intervals: 38 of 40 expected; a biased estimate gets far fewer


def test_census_is_exact(tmp_path):
    calls = audit_calls(_workload(tmp_path, n=300), plugins=[]).calls
    sample = draw_sample(calls, Sampling(above=0, calls=10_000))
    est = scale_estimate(RepeatCache().estimate(AuditContext(sample.calls, None)), sample)
    exact = RepeatCache().estimate(AuditContext(calls, None))
    assert est.cost_saved_usd == pytest.approx(exact.cost_saved_usd)
    assert est.interval_usd == pytest.approx((exact.cost_saved_usd,) * 2)


def test_audit_samples_only_the_heavy_columns_beyond_the_threshold(tmp_path, fake_heavy):
    workload = _workload(tmp_path, n=2000)
    plugins = ["fake_cache", "exact_cache"]
    exact = audit_calls(workload, plugins=plugins, sampling=Sampling(above=2000))
    assert exact.savings[0].interval_usd is None and not exact.sampling.sampled
    assert "at or under the sampling threshold of 2,000" in exact.sampling.sentence()
    report = audit_calls(workload, plugins=plugins, sampling=Sampling(above=1000, calls=500))
    heavy, model_free = report.savings
    assert heavy.sampled_calls and heavy.interval_usd and heavy.findings[0].startswith("Estimated")
    assert model_free.interval_usd is None and model_free == exact.savings[1]
    assert report.sampling.columns == ("Fake per-user cache",)
    text, html = render_text(report), render_html(report)
    for needle in ("95% interval", "over the sampling threshold of 1,000", "All together"):
        assert needle in text and needle in html


def test_a_column_without_per_call_savings_is_scaled_without_an_interval(tmp_path):
    class Flat:
        name, title, sampled = "flat", "Flat", True

        def estimate(self, context):
            return SavingsEstimate(self.name, self.title, len(context.calls), 0, 0, 1.0)

    calls = audit_calls(_workload(tmp_path, n=1000), plugins=[]).calls
    sample = draw_sample(calls, Sampling(above=0, calls=250))
    est = scale_estimate(Flat().estimate(AuditContext(sample.calls, None)), sample)
    assert est.interval_usd is None and "no interval" in est.findings[0]
    assert est.cost_saved_usd == pytest.approx(1000 / len(sample.calls))


def test_combined_replays_the_stages_in_order(tmp_path):
    calls = audit_calls(_workload(tmp_path, n=4), plugins=[]).calls
    a, b, c, d = calls
    cache, ctx, ctx2, out, route = (CallSavings() for _ in range(5))
    cache.add_whole(a)
    for s in (ctx, out, route):  # on the cached call: already saved in full
        s.add(a, input_tokens=1, cost_usd=a.cost_usd / 4)
    ctx.add(b, input_tokens=40, cost_usd=b.cost_usd * 0.2)
    ctx2.add(b, input_tokens=30, cost_usd=b.cost_usd * 0.1)  # overlaps: the larger counts
    out.add(b, output_tokens=10, cost_usd=b.cost_usd * 0.1)
    route.add(b, cost_usd=b.cost_usd * 0.5)
    route.add(c, cost_usd=c.cost_usd * 0.5)

    def est(name, s):
        return SavingsEstimate(name, name, len(s), 0, 0, sum(x[3] for x in s), per_call=s)

    savings = [
        est("exact_cache", cache),
        est("compression", ctx),
        est("few_shot", ctx2),
        est("output_caps", out),
        est("routing", route),
        SavingsEstimate("mine", "Mine", 4, 0, 0, 9.9),  # no per-call savings: left out
    ]
    per_call, included, left_out, quality = combine(savings, calls, changes_answers=())
    got = per_call.totals()
    assert got[a.call.line] == (a.usage.input_tokens, a.usage.output_tokens, a.cost_usd)
    assert got[b.call.line] == (40, 10, pytest.approx(b.cost_usd * (1 - 0.7 * 0.5)))
    assert got[c.call.line] == (0, 0, pytest.approx(c.cost_usd * 0.5))
    assert d.call.line not in got
    assert left_out == ("Mine",) and quality == () and len(included) == 5
    # by default routing (another model answers) stays out: savings at unchanged answers
    per_call, included, left_out, quality = combine(savings, calls)
    got = per_call.totals()
    assert got[b.call.line] == (40, 10, pytest.approx(b.cost_usd * 0.3))
    assert c.call.line not in got
    assert left_out == ("Mine",) and quality == ("routing",) and len(included) == 4


def test_combined_is_at_least_each_column_and_at_most_their_sum(tmp_path, workload):
    report = audit_calls(
        load_workload(workload),
        plugins=["exact_cache", "prompt_caching", "output_caps", "routing", "batch_api"],
    )
    combined = report.combined.cost_saved_usd
    columns = [s.cost_saved_usd for s in report.savings if s.name != "routing"]
    assert max(columns) <= combined + 1e-12
    assert combined < min(sum(columns), report.totals.cost_usd)
    assert report.combined.left_out == () and report.combined.changes_answers == ("Model routing",)


def test_cli_flags_and_json(workload, tmp_path, capsys):
    js = tmp_path / "r.json"
    args = ["audit", str(workload), "--no-html", "--only", "exact_cache,routing", "--json", str(js)]
    assert main([*args, "--exact"]) == 0
    data = json.loads(js.read_text())
    combined = data["combined"]
    assert combined["cost_saved_usd"] > 0 and combined["interval_usd"] is None
    assert combined["included"] == ["Exact-match cache"]
    assert combined["changes_answers"] == ["Model routing"]
    assert data["savings"][0]["interval_usd"] is None
    assert "All together, answers unchanged" in capsys.readouterr().out
    assert main([*args, "--sample-above", "0", "--sample-calls", "5"]) == 0
    data = json.loads(js.read_text())
    # routing embeds every question: it is sampled, and the report says so; the
    # exact cache stays exact
    assert data["sampling"]["sampled"] and data["sampling"]["columns"] == ["Model routing"]
    cache, routing = data["savings"]
    assert cache["interval_usd"] is None and cache["sampled_calls"] == 0
    low, high = routing["interval_usd"]
    assert routing["sampled_calls"] == data["sampling"]["sampled_calls"] > 0
    assert low <= routing["cost_saved_usd"] <= high
    assert (
        main([*args[:-4], "--only", "exact_cache", "--json", str(js), "--sample-above", "0"]) == 0
    )
    assert json.loads(js.read_text())["sampling"] is None  # no model-heavy column ran


def test_sampling_settings_are_checked():
    with pytest.raises(ConfigError, match="confidence"):
        Sampling(confidence=1.0)
    with pytest.raises(ConfigError, match="calls >= 1"):
        Sampling(calls=0)
    assert not Sampling(above=100, calls=50).applies(100)
    assert Sampling(above=100, calls=50).applies(101)


def test_a_reported_measurement_error_widens_the_interval(tmp_path):
    calls = audit_calls(_workload(tmp_path, n=1000), plugins=[]).calls
    sample = draw_sample(calls, Sampling(above=0, calls=300))
    plain = RepeatCache().estimate(AuditContext(sample.calls, None))
    noisy = SavingsEstimate(
        plain.name,
        plain.title,
        plain.calls_affected,
        0,
        0,
        plain.cost_saved_usd,
        metrics={"measurement_se_usd": 0.1 * plain.cost_saved_usd},
        per_call=plain.per_call,
    )
    a, b = scale_estimate(plain, sample), scale_estimate(noisy, sample)
    assert a.cost_saved_usd == b.cost_saved_usd
    width_a = a.interval_usd[1] - a.interval_usd[0]
    width_b = b.interval_usd[1] - b.interval_usd[0]
    # +-1.96 x 10% of the estimate, added in quadrature to the sampling half-width
    expected = 2 * (((width_a / 2) ** 2 + (1.96 * 0.1 * a.cost_saved_usd) ** 2) ** 0.5)
    assert width_b == pytest.approx(expected, rel=1e-3)


def test_intervals_are_students_t_at_the_satterthwaite_degrees_of_freedom():
    import math

    from tokenomy.audit.sampling import Sample, t_quantile

    t = pytest.importorskip("scipy.stats").t
    for df in (3, 5, 10, 30, 200):
        assert t_quantile(0.95, df) == pytest.approx(t.ppf(0.975, df), rel=0.002)
        assert t_quantile(0.99, df) == pytest.approx(t.ppf(0.995, df), rel=0.01)
    for df in (1, 2):  # exact there
        assert t_quantile(0.95, df) == pytest.approx(t.ppf(0.975, df), rel=1e-9)
    assert t_quantile(0.95, math.inf) == pytest.approx(1.959964, rel=1e-6)
    # one stratum, 3 of its 10 units drawn: 2 degrees of freedom, a t(2) interval
    sample = Sample(
        calls=(),
        unit_of_line={1: 0, 2: 1, 3: 2},
        stratum_of_unit=[0, 0, 0],
        strata=[(10, 3)],
        total_calls=10,
        confidence=0.95,
    )
    est = sample.estimate([(1, 1.0), (2, 2.0), (3, 6.0)])
    variance = 10 * 10 * (1 - 3 / 10) * 7.0 / 3  # s^2 = (4 + 1 + 9) / 2
    assert est.value == pytest.approx(30.0)
    assert est.high - est.value == pytest.approx(t.ppf(0.975, 2) * math.sqrt(variance))
