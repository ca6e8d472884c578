"""The spend-rate anomaly detector on the bundled sample week, with a runaway loop
injected: it fires on the loop's hour and nowhere else."""

import datetime as dt

import pytest

from tokenomy.budget import Alerts, CallbackSink, SpendAnomalyDetector
from tokenomy.errors import ConfigError

SATURDAY_2PM = dt.datetime(2026, 11, 7, 14, tzinfo=dt.timezone.utc).timestamp()


def runaway_loop(start, calls=150, usd=0.004):
    """A retry loop: 150 support calls (~$0.004 each) in twenty minutes."""
    return [(start + 8 * i, usd) for i in range(calls)]


def test_the_sample_week_alone_has_no_anomaly(sample_spend):
    detector = SpendAnomalyDetector()
    detector.add(sample_spend)
    assert detector.scan() == []


def test_an_injected_spike_fires_on_its_hour_and_nowhere_else(sample_spend):
    detector = SpendAnomalyDetector()
    detector.add(sample_spend + runaway_loop(SATURDAY_2PM))
    (found,) = detector.scan()
    assert found.start == SATURDAY_2PM and found.basis == "hour of day"
    assert found.spend_usd > 10 * found.baseline_usd and found.z > 6


def test_online_it_alerts_within_the_hour_and_once(sample_spend):
    seen = []
    detector = SpendAnomalyDetector(alerts=Alerts(sinks=[CallbackSink(seen.append)]))
    calls = sorted(sample_spend + runaway_loop(SATURDAY_2PM))
    flagged = [ts for ts, usd in calls if detector.observe(ts, usd) is not None]
    assert len(seen) == 1 and seen[0].kind == "anomaly" and "hour of day" in seen[0].message
    assert all(SATURDAY_2PM <= ts < SATURDAY_2PM + 3600 for ts in flagged)
    assert flagged[0] < SATURDAY_2PM + 1200  # before the loop ended


def test_the_hour_of_week_is_the_baseline_once_three_weeks_exist():
    detector = SpendAnomalyDetector()
    week = 7 * 86400
    # Mondays at 9:00 are busy ($5), other 9:00s quiet ($0.5): a busy Monday is usual
    spend = [
        (w * week + d * 86400 + 9 * 3600, 5.0 if d == 0 else 0.5)
        for w in range(3)
        for d in range(7)
    ]
    detector.add(spend)
    assert detector.score(3 * week + 9 * 3600 - 3600) is None
    detector.add([(3 * week + 9 * 3600, 5.2)])
    assert detector.score(3 * week + 9 * 3600) is None  # Monday 9:00 is always busy
    detector.add([(3 * week + 86400 + 9 * 3600, 5.2)])
    assert detector.score(3 * week + 86400 + 9 * 3600).basis == "hour of week"


def test_too_little_history_is_never_an_anomaly():
    detector = SpendAnomalyDetector()
    detector.add([(0, 0.01), (3600, 100.0)])
    assert detector.scan() == []


def test_bad_options_say_what_to_pass():
    with pytest.raises(ConfigError, match="threshold must be > 0"):
        SpendAnomalyDetector(threshold=0)
