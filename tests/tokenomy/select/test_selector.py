import copy

import pytest

from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError, UnknownNameError
from tokenomy.select import STRATEGIES, ExampleSelector, register_strategy
from tokenomy.tokens import TokenCounter

POOL = [
    {"text": "a great film, I loved every minute", "label": "positive"},
    {"text": "a great film, I loved every minute!", "label": "positive"},  # near-duplicate
    {"text": "great acting and a great story", "label": "positive"},
    {"text": "the film was dull and far too long", "label": "negative"},
    {"text": "a dull story with wooden acting", "label": "negative"},
    {"text": "the soundtrack is forgettable but the film is fine", "label": "neutral"},
    {"text": "bananas grow in the tropics " * 20, "label": "negative"},  # long and off-topic
]


def make(**kw):
    kw.setdefault("embedder", HashingEmbedder())
    kw.setdefault("label_key", "label")
    return ExampleSelector(POOL, **kw)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("budget", [15, 40, 100])
def test_every_strategy_stays_within_budget_and_count(strategy, budget):
    selection = make(strategy=strategy, max_tokens=budget, max_examples=3).select(
        {"text": "a great film with great acting"}
    )
    assert selection.tokens <= budget and len(selection) <= 3
    counter = TokenCounter()
    costed = sum(
        counter.count(f"text: {e['text']}\nlabel: {e['label']}") + 1 for e in selection.examples
    )
    assert selection.tokens == costed
    assert len(set(selection.indices)) == len(selection.indices)


def test_relevance_first_and_near_duplicates_kept_once():
    selection = make(strategy="relevance", max_tokens=200).select("a great film, I loved it")
    assert selection.indices[0] in (0, 1)
    assert not {0, 1} <= set(selection.indices)  # the near-duplicate pair counts once
    assert list(selection.relevance) == sorted(selection.relevance, reverse=True)


def test_default_prefers_cheap_relevant_examples_and_stops_early():
    selection = make(max_tokens=400).select("a great film, I loved it")
    assert 6 not in selection.indices  # the long off-topic example is never worth it
    assert len(selection) < len(POOL) - 1
    labels = [POOL[i]["label"] for i in selection.indices]
    assert labels[0] == "positive"


def test_mmr_spreads_over_the_pool():
    relevant = make(strategy="relevance", max_examples=2, max_tokens=400).select("great film")
    diverse = make(strategy="mmr", max_examples=2, max_tokens=400).select("great film")
    sims = HashingEmbedder().embed([POOL[i]["text"] for i in diverse.indices])
    assert float(sims[0] @ sims[1]) <= 0.95
    assert relevant.indices[0] == diverse.indices[0]


def test_formatter_template_costs_examples_as_rendered():
    s = make(formatter="Review: {text}\nSentiment: {label}", max_tokens=1000)
    counter = TokenCounter()
    assert s._costs[0] == counter.count(f"Review: {POOL[0]['text']}\nSentiment: positive") + 1
    with pytest.raises(ConfigError, match="formatter needs field"):
        ExampleSelector(
            [{"text": "x", "label": "y"}], formatter="{missing}", embedder=HashingEmbedder()
        )


def test_empty_pool_budget_too_small_and_missing_keys():
    empty = ExampleSelector(embedder=HashingEmbedder()).select("anything")
    assert len(empty) == 0 and empty.note == "the pool is empty"
    tiny = make(max_tokens=3).select("great film")
    assert len(tiny) == 0 and "raise max_tokens" in tiny.note
    with pytest.raises(ConfigError, match=r"missing \['label'\]"):
        make().add_example({"text": "no label"})
    with pytest.raises(ConfigError, match=r"input lacks \['text'\]"):
        make(input_keys=["text"]).select({"review": "great"})
    with pytest.raises(UnknownNameError, match="diverse_minimal"):
        make(strategy="best")
    with pytest.raises(ConfigError, match="max_tokens"):
        make(max_tokens=0)


def test_pool_and_inputs_are_not_mutated_and_growth_is_embedded():
    pool = copy.deepcopy(POOL)
    s = ExampleSelector(pool, label_key="label", embedder=HashingEmbedder(), max_tokens=400)
    s.select({"text": "great film", "label": "ignored"})
    s.add_example({"text": "an astonishing, moving documentary", "label": "positive"})
    assert len(s) == len(POOL) + 1
    assert 7 in s.select("astonishing moving documentary").indices
    assert pool == POOL


def test_custom_strategy_and_async():
    register_strategy("first_two", lambda c: [0, 1][: len(c)])
    try:
        assert len(make(strategy="first_two").select("film")) == 2
    finally:
        STRATEGIES.pop("first_two")


async def test_aselect_matches_select():
    s = make(max_tokens=60)
    assert (await s.aselect("great film")).indices == s.select("great film").indices
