"""Example compression: long fields shortened once, evidence for the answer kept, the
selector costing and showing the shortened example."""

import copy

import pytest

from tokenomy.compress import ExtractiveCompressor
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.select import ExampleCompression, ExampleSelector

FILLER = (
    "The city hosts many festivals during the summer months. "
    "Its old harbour is lined with cafes and small boats. "
    "Tourists often visit the hills to the north for the view. "
)
POOL = [
    {
        "context": FILLER + f"The capital of {country} is {capital}. " + FILLER,
        "question": f"What is the capital of {country}?",
        "answer": capital,
    }
    for country, capital in [("France", "Paris"), ("Peru", "Lima"), ("Kenya", "Nairobi")]
]


def shorten(**kw):
    kw.setdefault("min_tokens", 20)
    return ExampleCompression(
        ["context"], compressor=ExtractiveCompressor(embedder=HashingEmbedder()), **kw
    )


def test_a_long_field_keeps_its_answer_and_the_example_is_not_changed():
    compression = shorten()
    before = copy.deepcopy(POOL)
    out = [compression.apply(e) for e in POOL]
    assert before == POOL  # the caller's examples are never mutated
    for short, whole in zip(out, POOL, strict=True):
        assert whole["answer"] in short["context"]
        assert len(short["context"]) < len(whole["context"]) / 2
        assert short["question"] == whole["question"]  # only the named fields change
    assert compression.compressed == 3 and compression.saved_tokens > 0


def test_a_field_that_would_lose_its_answer_stays_whole():
    compression = shorten(ratio=0.02)  # too small for the answer's sentence, even doubled
    example = {**POOL[0], "answer": "old harbour is lined with cafes"}
    assert compression.apply(example)["context"] == example["context"]
    assert compression.kept_whole == 1 and compression.compressed == 0


def test_short_fields_and_fields_that_are_not_text_are_left_alone():
    compression = shorten(min_tokens=500)
    assert compression.apply(POOL[0]) == POOL[0]
    assert shorten().apply({"context": 42, "answer": "x"}) == {"context": 42, "answer": "x"}


def test_the_selector_costs_and_shows_the_shortened_examples():
    fmt = "Context: {context}\nQ: {question}\nA: {answer}"
    whole = ExampleSelector(POOL, formatter=fmt, max_tokens=None, embedder=HashingEmbedder())
    short = ExampleSelector(
        POOL, formatter=fmt, max_tokens=None, embedder=HashingEmbedder(), compress=shorten()
    )
    asked = {"context": "", "question": "What is the capital of Peru?", "answer": ""}
    picked = short.select(asked)
    assert all(e["answer"] in e["context"] for e in picked.examples)
    assert picked.tokens == sum(short.cost(e) for e in picked.examples)
    assert sum(map(short.cost, short.examples)) < sum(map(whole.cost, whole.examples)) / 2
    budget = max(whole.cost(e) for e in whole.examples)  # one whole example's worth
    assert len(whole.select(asked, max_tokens=budget)) == 1
    assert len(short.select(asked, max_tokens=budget)) >= 2  # more demonstrations fit


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"fields": "context"}, "as a list"),
        ({"fields": []}, "as a list"),
        ({"fields": ["c"], "ratio": 0.0}, "ratio"),
        ({"fields": ["c"], "min_tokens": 0}, "min_tokens"),
    ],
)
def test_bad_settings_say_what_to_pass(kw, message):
    with pytest.raises(ConfigError, match=message):
        ExampleCompression(compressor=ExtractiveCompressor(embedder=HashingEmbedder()), **kw)
