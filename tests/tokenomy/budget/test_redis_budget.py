"""The shared budget against a real Redis: outages, recovery, crashed processes, and
alerts that fire once for every process."""

import threading
import time

import pytest

pytest.importorskip("redis")

import redis

from tokenomy.budget import Limit, RedisBudget
from tokenomy.errors import BudgetExceededError, ConfigError

pytestmark = pytest.mark.redis

FAST = {"retry_s": 0.02, "rejoin_s": 0.1, "timeout_s": 1.0}


def spend(budget, usd, **labels):
    budget.settle(budget.reserve(usd, labels=labels), usd)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def budgets(redis_url):
    made = []

    def make(limits, **kw):
        for k, v in FAST.items():
            kw.setdefault(k, v)
        budget = RedisBudget(redis_url, limits=limits, **kw)
        made.append(budget)
        return budget

    yield make
    for b in made:
        b.close()


def test_two_processes_share_one_limit(budgets):
    one, two = budgets([Limit(usd=3)]), budgets([Limit(usd=3)])
    spend(one, 2.0)
    spend(two, 1.0)
    with pytest.raises(BudgetExceededError, match="is used up"):
        one.reserve(0.5)
    assert two.fetch() == {"all-total": (3.0, 0.0)}


def test_with_redis_down_a_process_spends_its_share_and_writes_it_back(
    budgets, redis_stack, redis_url
):
    budget = budgets([Limit(usd=10, window="day")], fallback_share=0.2)
    spend(budget, 4.0)
    redis_stack.kill()
    spend(budget, 1.5)  # Redis is gone: the local fallback allows $2 of the $10
    assert not budget.connected and budget.outages == 1
    with pytest.raises(BudgetExceededError, match=r"fallback share.*unreachable"):
        budget.reserve(1.0)
    redis_stack.start()  # back, and empty
    assert wait_until(lambda: budget.connected)
    assert budget.fetch() == {"all-day": (5.5, 0.0)}  # the $4 from before, and the $1.50
    assert budget.fallback_spent_usd == 1.5
    spend(budget, 4.5)
    with pytest.raises(BudgetExceededError, match="is used up"):
        budget.reserve(0.1)


def test_the_fallback_share_never_exceeds_the_room_last_seen(budgets, redis_stack):
    budget = budgets([Limit(usd=10)], fallback_share=0.5)
    spend(budget, 9.0)
    redis_stack.kill()
    with pytest.raises(BudgetExceededError, match=r"has \$1\.0000 left"):
        budget.reserve(2.0)
    spend(budget, 1.0)


def test_a_settle_during_an_outage_is_charged_once_when_redis_returns(budgets, redis_stack):
    budget = budgets([Limit(usd=10)])
    held = budget.reserve(3.0)
    other = budget.reserve(2.0)
    redis_stack.kill()
    budget.settle(held, 2.5)
    budget.settle(held, 2.5)  # a retry
    redis_stack.start()
    assert wait_until(lambda: budget.connected)
    assert budget.fetch() == {"all-total": (2.5, 2.0)}  # the open $2 is reserved again
    budget.release(other)
    assert budget.fetch() == {"all-total": (2.5, 0.0)}


def test_a_redis_restarted_between_two_calls_is_noticed_and_refilled(budgets, redis_stack):
    one, two = budgets([Limit(usd=10)]), budgets([Limit(usd=10)])
    spend(one, 3.0)
    spend(two, 4.0)
    redis_stack.kill()
    redis_stack.start()  # nobody called while it was down
    with pytest.raises(BudgetExceededError, match="fallback share"):
        one.reserve(2.0)  # the store's generation changed: the fallback share applies
    spend(two, 0.5)
    assert wait_until(lambda: one.connected and two.connected)
    assert one.fetch() == {"all-total": (7.5, 0.0)}  # what both had spent, written back


def test_a_partition_that_keeps_the_data_merges_without_double_counting(budgets, redis_url):
    """Redis stays up but this process cannot reach it for a while (a fake client
    that fails on demand stands in for the network)."""
    flaky = Flaky(redis.Redis.from_url(redis_url))
    budget = budgets([Limit(usd=10)], client=flaky, fallback_share=0.3)
    other = budgets([Limit(usd=10)])
    spend(budget, 2.0)
    spend(other, 1.0)
    held = budget.reserve(1.0)
    flaky.down = True
    budget.settle(held, 1.0)  # cannot reach Redis: written back later
    spend(budget, 2.0)  # on its fallback share
    spend(other, 1.0)
    flaky.down = False
    assert wait_until(lambda: budget.connected)
    assert other.fetch() == {"all-total": (7.0, 0.0)}


def test_the_reservation_of_a_crashed_process_stops_counting_after_its_ttl(budgets, clock):
    crashed = budgets([Limit(usd=5)], reservation_ttl_s=60, clock=clock)
    crashed.reserve(4.0)  # never settled: the process died
    alive = budgets([Limit(usd=5)], reservation_ttl_s=60, clock=clock)
    with pytest.raises(BudgetExceededError, match="reserved by calls in flight"):
        alive.reserve(2.0)
    clock.t += 61
    spend(alive, 5.0)


def test_a_threshold_fires_once_across_processes(budgets, alerts):
    a = budgets([Limit(usd=10, window="day", action="alert")], alerts=alerts)
    b = budgets([Limit(usd=10, window="day", action="alert")], alerts=alerts)
    for i in range(12):
        spend(a if i % 2 else b, 1.0)
    assert sorted(x.threshold for x in alerts.seen) == [0.5, 0.8, 1.0]


def test_per_user_keys_expire_after_their_window(budgets, redis_url, clock):
    budget = budgets([Limit(usd=5, window="day", per="user")], clock=clock)
    spend(budget, 1.0, user="u1")
    client = redis.Redis.from_url(redis_url)
    (key,) = [k for k in client.keys("tokenomy:budget:user-day*")]
    expires_ms = client.pexpiretime(key)
    day_end = (clock.t // 86400 + 1) * 86400
    assert expires_ms == int((day_end + 3600) * 1000)  # the period's end and an hour


def test_many_threads_of_two_budgets_hold_the_limit(budgets):
    one, two = budgets([Limit(usd=20)]), budgets([Limit(usd=20)])
    done = []

    def run(budget):
        for _ in range(10):
            try:
                r = budget.reserve(1.0)
            except BudgetExceededError:
                continue
            budget.settle(r, 1.0)
            done.append(1)

    threads = [threading.Thread(target=run, args=(b,)) for b in (one, two) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(done) == 20 and one.fetch() == {"all-total": (20.0, 0.0)}
    one.check()


def test_a_refusal_that_answers_late_does_not_hide_spend_settled_meanwhile(budgets):
    # A refused reserve's reply can be read after later settles' replies (its thread was
    # descheduled between the script and the read): status must not go back to it.
    budget = budgets([Limit(usd=5)])
    real = budget._reserve_script
    spend(budget, 3.0)
    held = budget.reserve(1.0)
    replies = []

    def reserve_then_answer_late(**kw):
        budget._reserve_script = real
        replies.append(real(**kw))  # refused: $3 spent, $1 reserved, $2 asked
        budget.settle(held, 1.0)  # ...and these settle before its reply is read
        spend(budget, 1.0)
        return replies[0]

    budget._reserve_script = reserve_then_answer_late
    with pytest.raises(BudgetExceededError):
        budget.reserve(2.0)
    assert replies[0][0] == 0 and replies[0][3] == 3 * 10**9  # the stale reply
    assert budget.status().spent_usd == pytest.approx(5.0)


def test_bad_options_say_what_to_pass(redis_url):
    with pytest.raises(ConfigError, match="url='redis://host:port'"):
        RedisBudget(limits=[Limit(usd=1)])
    with pytest.raises(ConfigError, match="fallback_share must be in"):
        RedisBudget(redis_url, limits=[Limit(usd=1)], fallback_share=2)
    with pytest.raises(ConfigError, match="at least one Limit"):
        RedisBudget(redis_url, limits=[])


class Flaky:
    """A redis client whose commands fail with ConnectionError while ``down``."""

    def __init__(self, real):
        self.real, self.down = real, False

    def register_script(self, text):
        script = self.real.register_script(text)

        def run(**kw):
            if self.down:
                raise redis.exceptions.ConnectionError("network partition (test)")
            return script(**kw)

        return run

    def __getattr__(self, name):
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def call(*a, **kw):
            if self.down:
                raise redis.exceptions.ConnectionError("network partition (test)")
            return attr(*a, **kw)

        return call
