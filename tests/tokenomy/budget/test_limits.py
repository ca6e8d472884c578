"""Which calls a limit covers, and the account and window each call is charged in."""

import calendar

import pytest

from tokenomy.budget import Limit
from tokenomy.errors import ConfigError

JAN_15 = calendar.timegm((2027, 1, 15, 8, 0, 0))


def test_a_limit_split_per_user_covers_only_calls_that_name_a_user():
    lim = Limit(usd=5, window="day", per="user")
    assert lim.account({"user": "u1"}, now=JAN_15).value == "u1"
    assert lim.account({"feature": "rag"}, now=JAN_15) is None


def test_where_narrows_a_limit_to_matching_calls():
    lim = Limit(usd=5, where={"feature": "rag"})
    assert lim.covers({"feature": "rag", "user": "u1"})
    assert not lim.covers({"feature": "chat"})
    assert lim.name == "all-feature=rag-total"


def test_calendar_windows_end_on_utc_boundaries():
    day = Limit(usd=1, window="day")
    assert day.period_end(JAN_15) == calendar.timegm((2027, 1, 16, 0, 0, 0))
    month = Limit(usd=1, window="month")
    assert month.period_end(JAN_15) == calendar.timegm((2027, 2, 1, 0, 0, 0))
    december = calendar.timegm((2026, 12, 31, 23, 59, 0))
    assert month.period_end(december) == calendar.timegm((2027, 1, 1, 0, 0, 0))
    assert month.period(december) + 1 == month.period(JAN_15)
    assert Limit(usd=1, window="minute").period_end(JAN_15 + 30) == JAN_15 + 60


def test_a_new_period_is_a_new_account():
    lim = Limit(usd=1, window="hour", per="user")
    a = lim.account({"user": "u1"}, now=JAN_15)
    b = lim.account({"user": "u1"}, now=JAN_15 + 3600)
    assert a.key != b.key and a.resets_at == b.resets_at - 3600


def test_a_rolling_window_is_one_account_of_sixty_buckets():
    lim = Limit(usd=1, window="minute", rolling=True)
    a = lim.account({}, now=JAN_15)
    b = lim.account({}, now=JAN_15 + 59)
    assert a.key == b.key and b.bucket - a.bucket == 59 and b.live_from == a.bucket


def test_label_values_cannot_forge_another_account():
    lim = Limit(usd=1, per="user")
    assert lim.account({"user": "a|b"}, now=0).key != lim.account({"user": "a"}, now=0).key
    assert "|" not in lim.account({"user": "a|b"}, now=0).value.replace("a|b", "")


def test_unlisted_tenants_share_the_star_weight():
    lim = Limit(usd=10, fair_by="tenant", weights={"a": 1, "*": 1})
    assert lim.account({"tenant": "zed"}, now=0).tenant == "*"
    assert lim.account({"tenant": "a"}, now=0).tenant == "a"


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"usd": 0}, "usd must be a number > 0"),
        ({"usd": 1, "window": "week"}, "minute, hour, day, month, total"),
        ({"usd": 1, "rolling": True}, "cannot be rolling"),
        ({"usd": 1, "action": "warn"}, "'block' (hard) or 'alert' (soft)"),
        ({"usd": 1, "weights": {"a": 1}}, "fair_by="),
        ({"usd": 1, "fair_by": "t", "weights": {"a": 0}}, "weights['a'] must be > 0"),
        ({"usd": 1, "guaranteed": 2}, "guaranteed must be in [0, 1]"),
    ],
)
def test_a_bad_limit_says_what_to_change(kw, words):
    with pytest.raises(ConfigError, match=None) as err:
        Limit(**kw)
    assert words in str(err.value)
