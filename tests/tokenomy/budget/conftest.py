import itertools

import pytest
from fakes import Clock

from tokenomy.budget import Alerts, CallbackSink, SpendBudget

_prefixes = itertools.count()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def alerts():
    seen = []
    made = Alerts(sinks=[CallbackSink(seen.append)])
    made.seen = seen
    return made


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def make_budget(request, clock):
    """Builds a budget on each backend: the same limits must mean the same thing."""
    made = []
    if request.param == "local":

        def make(limits, **kw):
            kw.setdefault("clock", clock)
            return SpendBudget(limits=limits, **kw)

    else:
        pytest.importorskip("redis")
        from tokenomy.budget import RedisBudget

        url = request.getfixturevalue("redis_url")
        prefix = f"test{next(_prefixes)}:"  # budgets made by one test share it

        def make(limits, **kw):
            kw.setdefault("clock", clock)
            kw.setdefault("prefix", prefix)
            budget = RedisBudget(url, limits=limits, **kw)
            made.append(budget)
            return budget

    make.backend = request.param
    yield make
    for budget in made:
        budget.close()


@pytest.fixture(scope="session")
def sample_spend():
    """(timestamp, usd) of each call of the bundled sample workload (a week, 1,119
    calls), priced from counted tokens at the bundled prices."""
    from tokenomy.audit import load_workload, sample_workload_path
    from tokenomy.tokens import PriceTable, TokenCounter, TokenUsage

    prices, counters, out = PriceTable.default(), {}, []
    for call in load_workload(sample_workload_path()).calls:
        counter = counters.setdefault(call.model, TokenCounter(call.model))
        usage = TokenUsage(
            counter.count_messages(list(call.messages)), counter.count(call.response or "")
        )
        out.append((call.timestamp, prices.cost(call.model, usage).total_usd))
    return out
