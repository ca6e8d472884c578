"""The 30-day forecast: its interval, its weekly profile, the backtest on the sample
week, and the alert when a monthly limit will run out early."""

import datetime as dt
import math

import pytest

from tokenomy.budget import Alerts, CallbackSink, forecast_alert, forecast_spend
from tokenomy.errors import ConfigError

DAY = 86400.0


def day_start(y, m, d):
    return dt.datetime(y, m, d, tzinfo=dt.timezone.utc).timestamp()


def test_a_steady_spend_is_forecast_flat_with_an_interval_around_it():
    spend = [(d * DAY + 3600, 10.0 + (d % 3 - 1)) for d in range(10)]
    f = forecast_spend(spend, now=10 * DAY)
    assert f.horizon_days == 30 and f.total_usd == pytest.approx(30 * 9.9, rel=1e-3)
    assert f.low_usd < f.total_usd < f.high_usd and not f.weekly


def test_two_weeks_of_history_teach_it_the_weekend():
    start = day_start(2027, 1, 4)  # a Monday
    spend = [(start + d * DAY, 2.0 if (d % 7) >= 5 else 10.0) for d in range(21)]
    f = forecast_spend(spend, now=start + 21 * DAY, horizon_days=7)
    assert (
        f.weekly and f.daily_usd[5] == pytest.approx(2.0) and f.daily_usd[0] == pytest.approx(10.0)
    )
    assert f.total_usd == pytest.approx(54.0)


def test_the_sample_week_backtest(sample_spend):
    """Fit on days 1-5 (Monday to Friday), forecast days 6-7 (the weekend): the
    model cannot know a weekend it has not seen, and says so by its error. The
    numbers are the ones docs/budgets.md reports."""
    first = math.floor(min(t for t, _ in sample_spend) / DAY)
    f = forecast_spend(sample_spend, now=(first + 5) * DAY, horizon_days=2)
    actual = sum(usd for t, usd in sample_spend if (first + 5) * DAY <= t < (first + 7) * DAY)
    assert f.history_days == 5 and not f.weekly
    assert f.total_usd == pytest.approx(1.45, abs=0.01)
    assert actual == pytest.approx(0.70, abs=0.01)
    assert not f.low_usd <= actual <= f.high_usd


def test_an_alert_names_the_day_the_monthly_limit_runs_out():
    seen = []
    alerts = Alerts(sinks=[CallbackSink(seen.append)])
    now = day_start(2027, 1, 11) + 3600
    spend = [(day_start(2027, 1, d) + 7200, 10.0) for d in range(1, 11)]  # $100 so far
    f = forecast_spend(spend, now=now)
    alert = forecast_alert(f, limit_usd=250, spent_usd=100, now=now, alerts=alerts)
    assert "runs out on 2027-01-25" in alert.message and alert.kind == "forecast"
    forecast_alert(f, limit_usd=250, spent_usd=100, now=now + 3600, alerts=alerts)
    assert len(seen) == 1  # once per month
    assert forecast_alert(f, limit_usd=400, spent_usd=100, now=now) is None  # lasts the month


def test_bad_options_and_no_history_say_what_to_do():
    with pytest.raises(ConfigError, match="at least one full day"):
        forecast_spend([(100.0, 1.0)], now=200.0)
    with pytest.raises(ConfigError, match="level must be one of"):
        forecast_spend([(100.0, 1.0)], now=DAY * 3, level=0.5)
