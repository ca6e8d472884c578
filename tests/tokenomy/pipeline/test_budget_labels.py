"""The pipeline reserves each call under its request's labels (tags, model, scope,
session), so a budget's limits per user, feature, model or tag apply to it."""

import pytest

from tokenomy.budget import Limit, SpendBudget
from tokenomy.errors import BudgetExceededError
from tokenomy.pipeline import Pipeline, Request, TextCodec
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.tokens import PriceTable

# $0.10 per output token: a call capped at 10 tokens reserves $1.00
PRICES = PriceTable.default().with_prices({"unit-model": {"input": 0.0, "output": 100_000.0}})
ANSWER = "one two three"  # 3 tokens: $0.30


def ask(**kw):
    return Request(prompt="hi", model="unit-model", max_tokens=10, **kw)


def test_the_labels_are_the_tags_then_model_scope_and_session():
    request = ask(scope="acme", session="s1", tags={"user": "u1", "model": "tagged"})
    assert request.labels == {"model": "tagged", "scope": "acme", "session": "s1", "user": "u1"}


def test_a_per_user_limit_refuses_one_user_and_not_the_other():
    budget = SpendBudget(limits=[Limit(usd=1.5, window="day", per="user")])
    pipe = Pipeline(budget=budget, prices=PRICES)
    for _ in range(2):  # each reserves $1.00 and spends $0.30
        assert pipe.run(ask(tags={"user": "u1"}), lambda s: ANSWER, TextCodec()) == ANSWER
    with pytest.raises(BudgetExceededError, match="for user 'u1'"):
        pipe.run(ask(tags={"user": "u1"}), lambda s: ANSWER, TextCodec())
    assert pipe.run(ask(tags={"user": "u2"}), lambda s: ANSWER, TextCodec()) == ANSWER


def test_a_limit_on_a_model_and_one_on_a_scope():
    budget = SpendBudget(
        limits=[Limit(usd=1, where={"model": "unit-model"}), Limit(usd=5, per="scope")]
    )
    pipe = Pipeline(budget=budget, prices=PRICES)
    pipe.run(ask(scope="acme"), lambda s: ANSWER, TextCodec())
    with pytest.raises(BudgetExceededError, match="model=unit-model"):
        pipe.run(ask(scope="other"), lambda s: ANSWER, TextCodec())


def test_a_users_low_budget_routes_that_user_to_the_cheaper_model():
    table = ModelTable(
        # "cheap": a tier the default prior predicts below the 0.8 target even on "hi"
        [ModelSpec("cheap", 0.0, 1e4, quality=0.3), ModelSpec("dear", 0.0, 1e5, quality=0.9)]
    )
    budget = SpendBudget(limits=[Limit(usd=10, per="user", low_share=0.5)])
    pipe = Pipeline(budget=budget, router=Router(table, quality_target=0.8))
    budget.charge(8.0, labels={"user": "u1"})  # u1 has 20% of its limit left: "low"
    chosen = {}
    for user in ("u1", "u2"):
        pipe.run(
            Request(prompt="hi", max_tokens=10, tags={"user": user}),
            lambda s, user=user: chosen.setdefault(user, s.model) and ANSWER,
            TextCodec(),
        )
    assert chosen == {"u1": "cheap", "u2": "dear"}
