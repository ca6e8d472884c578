"""Priority and fairness: a global limit shared by tenant weight, measured with a
flooding tenant running in threads; low-priority tenants are routed cheaper first."""

import threading
import time

import pytest

from tokenomy.budget import Limit
from tokenomy.errors import BudgetExceededError


def flood_and_trickle(budget, *, steady_calls, flood_threads=6):
    """Tenant "a" floods from several threads until it is refused for good; tenant "b"
    makes ``steady_calls`` $1 calls, one after another, meanwhile. Returns the dollars
    each got."""
    got = {"a": 0, "b": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                r = budget.reserve(1.0, labels={"tenant": "a"})
            except BudgetExceededError:
                time.sleep(0.001)
                continue
            budget.settle(r, 1.0)
            with lock:
                got["a"] += 1

    threads = [threading.Thread(target=flood) for _ in range(flood_threads)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not got["a"] and time.monotonic() < deadline:  # the flood is on before b asks
        time.sleep(0.0005)
    for _ in range(steady_calls):
        try:
            budget.settle(budget.reserve(1.0, labels={"tenant": "b"}), 1.0)
            got["b"] += 1
        except BudgetExceededError:
            pass
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return got


def test_without_fair_shares_a_flood_starves_the_other_tenant(make_budget):
    budget = make_budget([Limit(usd=40)])
    got = flood_and_trickle(budget, steady_calls=30)
    assert got["a"] + got["b"] == 40 and got["b"] < 20  # "b" wanted 30


def test_with_fair_shares_the_other_tenant_keeps_its_share(make_budget):
    budget = make_budget([Limit(usd=40, fair_by="tenant", weights={"a": 1, "b": 1})])
    got = flood_and_trickle(budget, steady_calls=30)
    assert got == {"a": 20, "b": 20}  # "b" asked for 30: it got its whole half


def test_a_tenant_asking_less_than_its_share_gets_all_of_it(make_budget):
    budget = make_budget([Limit(usd=40, fair_by="tenant", weights={"a": 3, "b": 1})])
    got = flood_and_trickle(budget, steady_calls=8)
    assert got == {"a": 30, "b": 8}  # b's unused $2 stays held for b in this window


def test_under_pressure_the_low_priority_tenant_turns_low_first(make_budget):
    budget = make_budget(
        [Limit(usd=100, fair_by="tenant", weights={"gold": 4, "free": 1}, low_share=0.2)]
    )
    budget.settle(budget.reserve(50.0, labels={"tenant": "gold"}), 50.0)
    budget.settle(budget.reserve(10.0, labels={"tenant": "free"}), 10.0)
    gold, free = budget.status({"tenant": "gold"}), budget.status({"tenant": "free"})
    assert free.remaining_share == pytest.approx(0.5) and free.state == "low"  # 0.8 for free
    assert gold.remaining_share == pytest.approx(30 / 80) and gold.state == "ok"
