import json
import warnings

import pytest

from tokenomy.errors import PriceError
from tokenomy.tokens import (
    ModelPrice,
    PriceTable,
    TokenUsage,
    UnknownModelPriceWarning,
    estimate_cost,
)


def test_bundled_table_is_dated_sourced_and_large():
    table = PriceTable.default()
    assert len(table) >= 50
    assert table.as_of and "tokencost" in (table.source or "")
    for price in table:
        assert price.input >= 0 and price.output >= 0
        assert price.context_window is None or price.context_window > 0


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("azure/gpt-4o-2024-11-20", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
        ("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"),
        ("mixtral-8x7b-instruct-v0.1", "open-mixtral-8x7b"),
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("llama-3.1-8b-instant", "groq/llama-3.1-8b-instant"),
    ],
)
def test_lookup_resolves_aliases_prefixes_and_dates(name, canonical):
    assert PriceTable.default().get(name).model == canonical


def test_cost_splits_cached_and_output():
    price = ModelPrice("m", input=2.0, output=8.0, cached_input=0.5)
    cost = price.cost(
        TokenUsage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=400_000)
    )
    assert cost.input_usd == pytest.approx(1.2)
    assert cost.cached_input_usd == pytest.approx(0.2)
    assert cost.output_usd == pytest.approx(4.0)
    assert cost.total_usd == pytest.approx(5.4)


def test_cached_tokens_cost_full_price_without_a_discount():
    price = ModelPrice("m", input=1.0, output=1.0)
    assert price.cost(TokenUsage(1_000_000, 0, 1_000_000)).total_usd == pytest.approx(1.0)


def test_known_model_cost_matches_the_table():
    cost = estimate_cost("gpt-4o", TokenUsage(input_tokens=1000, output_tokens=100))
    assert cost.total_usd == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)


def test_unknown_model_is_none_with_one_warning_naming_the_fix():
    table = PriceTable.default().with_prices({})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert table.cost("mystery-model-9", TokenUsage(10, 10)) is None
        assert table.cost("mystery-model-9", TokenUsage(10, 10)) is None
    msgs = [str(w.message) for w in caught if issubclass(w.category, UnknownModelPriceWarning)]
    assert len(msgs) == 1
    assert "with_prices" in msgs[0] and "mystery-model-9" in msgs[0]


def test_overrides_from_code_and_file(tmp_path):
    base = PriceTable.default()
    custom = base.with_prices(
        {"gpt-4o": {"input": 1.0, "output": 1.0}, "mine": {"input": 3, "output": 4}}
    )
    assert custom.get("gpt-4o").input == 1.0
    assert base.get("gpt-4o").input == 2.5  # the original table is unchanged
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"models": {"mine": {"input": 5, "output": 6, "aliases": ["mine-v2"]}}})
    )
    from_file = base.with_file(path)
    assert from_file.get("mine-v2").output == 6


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"input": 1}, "lacks output"),
        ({"input": -1, "output": 1}, "must be a number >= 0"),
        ({"input": 1, "output": 1, "inptu": 2}, "unknown keys"),
        ("cheap", "must be an object"),
    ],
)
def test_malformed_overrides_are_rejected(entry, message):
    with pytest.raises(PriceError, match=message):
        PriceTable.default().with_prices({"x": entry})


def test_bad_price_files(tmp_path):
    with pytest.raises(PriceError, match="Cannot read"):
        PriceTable.from_file(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(PriceError, match="not valid JSON"):
        PriceTable.from_file(bad)
