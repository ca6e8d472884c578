"""Experiments: stable assignment, recorded metrics, a permutation test with a plain
verdict, and ``tokenomy experiments report``."""

import json
import random

import pytest

from tokenomy.budget import Experiment, ExperimentLog, experiment_report
from tokenomy.cli import main
from tokenomy.errors import ConfigError


def test_assignment_is_stable_independent_and_close_to_the_weights():
    a, b = Experiment("cache"), Experiment("compression")
    users = [f"user-{i}" for i in range(4000)]
    assert [a.assign(u) for u in users] == [a.assign(u) for u in users]
    treated = sum(a.assign(u) == "treatment" for u in users) / len(users)
    assert 0.47 < treated < 0.53
    both = sum(a.assign(u) == b.assign(u) == "treatment" for u in users) / len(users)
    assert 0.22 < both < 0.28  # two experiments split users independently
    skewed = Experiment("ramp", weights=(9, 1))
    assert 0.08 < sum(skewed.assign(u) == "treatment" for u in users) / len(users) < 0.12
    assert a.assign_labels({"feature": "x"}) == "control"  # no user: the control


def simulated_log(path=None, *, saving=0.3, quality_drop=0.0, n=400, seed=1):
    rng = random.Random(seed)
    exp, log = Experiment("cache"), ExperimentLog(path)
    for i in range(n):
        user = f"u{i % 97}"
        variant = exp.assign(user)
        cost = rng.lognormvariate(-6, 0.8) * (1 - saving if variant == "treatment" else 1)
        log.record(
            exp,
            variant,
            request_id=f"r{i}",
            input_tokens=int(cost * 1e6),
            cost_usd=cost,
            latency_s=rng.uniform(0.2, 1.5),
        )
        good = rng.random() < (0.9 - (quality_drop if variant == "treatment" else 0))
        log.feedback(f"r{i}", 1.0 if good else 0.0)
    return log


def test_a_real_saving_with_unchanged_quality_says_keep_it():
    report = experiment_report(simulated_log(saving=0.3), "cache")
    cost = next(c for c in report.comparisons if c.metric == "cost_usd")
    assert cost.significant and cost.better and -0.45 < cost.relative < -0.15
    assert report.verdicts["treatment"].startswith("keep it")


def test_a_quality_loss_says_do_not_keep_it():
    report = experiment_report(simulated_log(saving=0.3, quality_drop=0.3), "cache")
    assert report.verdicts["treatment"].startswith("worse")


def test_no_difference_says_no_evidence_yet():
    report = experiment_report(simulated_log(saving=0.0), "cache")
    assert report.verdicts["treatment"].startswith("no evidence yet")


def test_the_command_prints_the_report_of_a_log_written_by_two_processes(tmp_path, capsys):
    path = tmp_path / "experiments.jsonl"
    simulated_log(path, n=200, seed=1)
    simulated_log(path, n=200, seed=2)  # a second writer appends to the same file
    assert main(["experiments", "report", str(path), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "experiment 'cache'" in out and "verdict for treatment: keep it" in out
    (saved,) = json.loads((tmp_path / "r.json").read_text())
    assert {v["variant"] for v in saved["variants"]} == {"control", "treatment"}


def test_bad_input_says_what_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match="at least two distinct variants"):
        Experiment("x", variants=("a",))
    with pytest.raises(ConfigError, match="experiments in the log: cache"):
        experiment_report(simulated_log(n=10), "nope")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["experiments", "report", str(bad)]) == 1
