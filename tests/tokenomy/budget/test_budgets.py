"""One set of limit semantics, run on both backends: in process and shared in Redis."""

import threading

import pytest

from tokenomy.budget import Limit, SpendBudget
from tokenomy.errors import BudgetExceededError, ConfigError


def spend(budget, usd, **labels):
    budget.settle(budget.reserve(usd, labels=labels), usd)


def test_a_total_limit_takes_five_one_dollar_calls_and_refuses_the_sixth(make_budget):
    budget = make_budget([Limit(usd=5)])
    for _ in range(5):
        spend(budget, 1.0)
    with pytest.raises(BudgetExceededError, match=r"\$5\.00 total limit .all-total. is used up"):
        budget.reserve(1.0)
    assert budget.status().state == "exhausted"
    budget.check()


def test_reservations_in_flight_count_against_the_room(make_budget):
    budget = make_budget([Limit(usd=3)])
    held = [budget.reserve(1.0) for _ in range(3)]
    with pytest.raises(BudgetExceededError, match=r"\$3\.0000 reserved by calls in flight"):
        budget.reserve(0.5)
    budget.release(held[0])  # a cache hit: nothing charged
    budget.settle(held[1], 0.25)  # cheaper than reserved: the rest comes back
    budget.reserve(1.5)


def test_settling_twice_charges_once(make_budget):
    budget = make_budget([Limit(usd=5)])
    r = budget.reserve(2.0)
    budget.settle(r, 2.0)
    budget.settle(r, 2.0)
    budget.release(r)
    spend(budget, 3.0)
    with pytest.raises(BudgetExceededError):
        budget.reserve(0.01)


def test_each_user_has_its_own_daily_limit_and_it_resets_at_midnight_utc(make_budget, clock):
    budget = make_budget([Limit(usd=2, window="day", per="user")])
    spend(budget, 2.0, user="u1")
    with pytest.raises(BudgetExceededError, match=r"for user 'u1' is used up.*resets"):
        budget.reserve(0.1, labels={"user": "u1"})
    spend(budget, 2.0, user="u2")  # another user is untouched
    spend(budget, 5.0, feature="batch")  # a call naming no user is not covered
    clock.t += 86400
    spend(budget, 2.0, user="u1")


def test_a_limit_on_one_feature_leaves_the_others_alone(make_budget):
    budget = make_budget([Limit(usd=1, where={"feature": "rag"}), Limit(usd=10)])
    spend(budget, 1.0, feature="rag")
    with pytest.raises(BudgetExceededError, match="all-feature=rag-total"):
        budget.reserve(0.5, labels={"feature": "rag"})
    spend(budget, 4.0, feature="chat")
    with pytest.raises(BudgetExceededError, match="'all-total'"):  # the app's limit
        budget.reserve(6.0, labels={"feature": "chat"})


def test_a_call_is_reserved_on_every_limit_or_on_none(make_budget):
    budget = make_budget([Limit(usd=10), Limit(usd=1, per="user")])
    with pytest.raises(BudgetExceededError):
        budget.reserve(2.0, labels={"user": "u1"})  # fits the app's $10, not u1's $1
    spend(budget, 10.0)  # so the app's limit still has all of its room


def test_a_rolling_window_forgets_spend_one_bucket_at_a_time(make_budget, clock):
    clock.t = 1_800_000_000.0  # a whole minute: bucket edges at whole seconds
    budget = make_budget([Limit(usd=3, window="minute", rolling=True)])
    spend(budget, 2.0)
    clock.t += 30
    spend(budget, 1.0)
    with pytest.raises(BudgetExceededError):
        budget.reserve(1.0)
    clock.t += 30  # the first $2 left the window, the $1 is 30 s old
    spend(budget, 2.0)
    with pytest.raises(BudgetExceededError):
        budget.reserve(0.5)


def test_a_soft_limit_never_refuses_and_alerts_at_each_threshold_once(make_budget, alerts):
    budget = make_budget([Limit(usd=10, window="day", action="alert")], alerts=alerts)
    for _ in range(15):
        spend(budget, 1.0)
    assert [a.threshold for a in alerts.seen] == [0.5, 0.8, 1.0]
    assert "soft limit" in alerts.seen[0].message and alerts.seen[-1].spent_usd == 10.0


def test_a_hard_limit_alerts_at_100_percent_when_it_refuses(make_budget, alerts):
    budget = make_budget([Limit(usd=4)], alerts=alerts)
    spend(budget, 2.5)
    for _ in range(3):
        with pytest.raises(BudgetExceededError):
            budget.reserve(2.0)
    assert [a.threshold for a in alerts.seen] == [0.5, 1.0]
    assert "was refused" in alerts.seen[-1].message


def test_thresholds_fire_again_in_the_next_window(make_budget, alerts, clock):
    budget = make_budget([Limit(usd=2, window="hour", action="alert")], alerts=alerts)
    spend(budget, 1.0)
    clock.t += 3600
    spend(budget, 1.0)
    assert [a.threshold for a in alerts.seen] == [0.5, 0.5]
    assert alerts.seen[0].key != alerts.seen[1].key


def test_the_status_a_router_reads_turns_low_then_exhausted(make_budget):
    budget = make_budget([Limit(usd=10, low_share=0.3), Limit(usd=2, per="user")])
    budget.charge(7.5, labels={"user": "u1"})  # reported after the fact: never refused
    assert budget.status().state == "low" and budget.status().limit == "all-total"
    assert budget.status({"user": "u1"}).state == "exhausted"
    assert budget.status({"user": "u2"}).limit == "all-total"


def test_a_charge_after_the_fact_is_never_refused(make_budget):
    budget = make_budget([Limit(usd=1)])
    budget.charge(3.0)
    assert budget.status().spent_usd == pytest.approx(3.0)


@pytest.mark.parametrize("threads", [8])
def test_eight_threads_of_one_dollar_calls_spend_exactly_five_of_five(make_budget, threads):
    budget = make_budget([Limit(usd=5)])
    gate = threading.Barrier(threads)
    done, refused = [], []

    def call():
        gate.wait(timeout=10)
        try:
            r = budget.reserve(1.0)
        except BudgetExceededError:
            refused.append(1)
            return
        gate_in_flight.wait(timeout=10)  # every admitted call is in flight before any settles
        budget.settle(r, 1.0)
        done.append(1)

    gate_in_flight = threading.Barrier(5)
    workers = [threading.Thread(target=call) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert len(done) == 5 and len(refused) == 3
    assert budget.status().spent_usd == pytest.approx(5.0)
    budget.check()


def test_fair_shares_keep_a_flooding_tenant_from_starving_the_other(make_budget):
    budget = make_budget([Limit(usd=10, fair_by="tenant", weights={"a": 1, "b": 1})])
    flood = 0
    while True:
        try:
            spend(budget, 1.0, tenant="a")
        except BudgetExceededError as exc:
            assert "held for the other tenants' shares" in str(exc)
            break
        flood += 1
    assert flood == 5  # a's own half; b's half is held for b
    for _ in range(5):
        spend(budget, 1.0, tenant="b")


def test_an_idle_tenants_share_can_be_borrowed_only_up_to_what_is_not_guaranteed(make_budget):
    budget = make_budget(
        [Limit(usd=10, fair_by="tenant", weights={"a": 1, "b": 1}, guaranteed=0.6)]
    )
    taken = 0
    while True:
        try:
            spend(budget, 1.0, tenant="a")
        except BudgetExceededError:
            break
        taken += 1
    assert taken == 7  # a's $5, plus the 40% of b's $5 that is not guaranteed
    for _ in range(3):
        spend(budget, 1.0, tenant="b")


def test_unlisted_tenants_use_only_what_the_listed_ones_leave(make_budget):
    budget = make_budget([Limit(usd=10, fair_by="tenant", weights={"a": 3, "b": 1})])
    spend(budget, 7.5, tenant="a")
    with pytest.raises(BudgetExceededError, match="held for the other tenants"):
        budget.reserve(0.5, labels={"tenant": "x"})
    spend(budget, 2.5, tenant="b")


def test_spend_budget_keeps_its_one_number_form():
    budget = SpendBudget(5.0, low_share=0.5)
    spend(budget, 3.0)
    assert (budget.limit_usd, budget.spent_usd, budget.state) == (5.0, 3.0, "low")
    with pytest.raises(ConfigError, match="limit_usd must be > 0"):
        SpendBudget(0)
    with pytest.raises(ConfigError, match="needs a limit"):
        SpendBudget()
    with pytest.raises(ConfigError, match="distinct name"):
        SpendBudget(limits=[Limit(usd=1, per="user"), Limit(usd=2, per="user")])
