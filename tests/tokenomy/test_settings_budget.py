"""budget.* and alerts.*: from keyword arguments or TOKENOMY_* variables to working
budgets and alert sinks."""

import json

import pytest

from tokenomy import Settings
from tokenomy.budget import Limit, LoggingSink, RedisBudget, SpendBudget, WebhookSink
from tokenomy.budget.limits import DEFAULT_LOW_SHARE


def test_no_limit_set_means_no_budget():
    assert Settings().spend_budget() is None


def test_limits_from_the_environment_build_a_local_budget(monkeypatch):
    monkeypatch.setenv("TOKENOMY_BUDGET__TOTAL_USD", "100")
    monkeypatch.setenv("TOKENOMY_BUDGET__WINDOW", "day")
    monkeypatch.setenv(
        "TOKENOMY_BUDGET__LIMITS",
        json.dumps([{"usd": 5, "window": "day", "per": "user"}, {"usd": 20, "action": "alert"}]),
    )
    budget = Settings.from_env().spend_budget()
    assert isinstance(budget, SpendBudget)
    assert [x.name for x in budget.limits] == ["total", "user-day", "all-total"]
    assert budget.limits[0].window == "day" and budget.limits[2].action == "alert"
    assert isinstance(budget.alerts.sinks[0], LoggingSink)


def test_a_redis_url_makes_the_budget_shared():
    pytest.importorskip("redis")
    s = Settings(
        budget={"total_usd": 50, "redis_url": "redis://127.0.0.1:1", "fallback_share": 0.25}
    )
    budget = s.spend_budget()
    assert isinstance(budget, RedisBudget) and budget.fallback_share == 0.25


def test_fair_shares_and_alerts_from_settings():
    s = Settings(
        budget={
            "total_usd": 10,
            "fair_by": "tenant",
            "weights": {"gold": 3, "*": 1},
            "guaranteed": 0.5,
        },
        alerts={
            "thresholds": [0.9],
            "log": False,
            "webhook_url": "https://hooks.example/x",
            "webhook_token": "t",
        },
    )
    budget = s.spend_budget()
    assert (
        budget.limits[0].weights == {"gold": 3.0, "*": 1.0} and budget.limits[0].guaranteed == 0.5
    )
    (sink,) = budget.alerts.sinks
    assert isinstance(sink, WebhookSink) and sink.headers == {"Authorization": "Bearer t"}
    assert budget.alerts.thresholds == (0.9,)
    assert Settings(alerts={"enabled": False}).alert_sinks() is None


def test_defaults_are_the_components_own():
    assert Settings().budget.low_share == DEFAULT_LOW_SHARE == Limit(usd=1).low_share
    assert Settings().anomaly_detector().threshold == Settings().alerts.anomaly_z == 6.0
    assert Settings().alerts.forecast_horizon_days == 30
