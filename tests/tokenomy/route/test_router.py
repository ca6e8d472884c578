import numpy as np
import pytest

from tokenomy.budget import SpendBudget
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import BudgetExceededError, ConfigError, UnknownNameError
from tokenomy.route import (
    FEATURE_NAMES,
    ModelSpec,
    ModelTable,
    Router,
    complexity_features,
)

SMALL = ModelSpec("small", 0.15, 0.6, context_window=1000, quality=0.65)
LARGE = ModelSpec(
    "large",
    2.5,
    10.0,
    context_window=128_000,
    quality=0.85,
    capabilities=frozenset({"tools", "vision"}),
)


def router(**kw):
    kw.setdefault("embedder", HashingEmbedder())
    return Router(ModelTable([LARGE, SMALL]), **kw)


def test_table_orders_by_price_and_reads_the_price_table():
    table = ModelTable([LARGE, SMALL])
    assert table.names == ["small", "large"]
    default = ModelTable.default()
    assert len(default) == 9 and default["gpt-4o"].context_window == 128_000
    assert "tools" in default["gpt-4o"].capabilities
    with pytest.raises(UnknownNameError, match="no model 'x'"):
        table["x"]
    with pytest.raises(UnknownNameError, match="no price"):
        ModelTable.from_prices({"m": ("no-such-model", 0.5)})
    with pytest.raises(ConfigError, match="unknown capabilities"):
        ModelSpec("m", 1, 1, capabilities=frozenset({"telepathy"}))


def test_unfitted_router_sends_easy_prompts_cheap_and_rates_hard_ones_harder():
    r = router(quality_target=0.6)
    easy = r.route("What is the capital of France?")
    hard_text = (
        "Prove step by step that sqrt(2) is irrational, then derive 3 + 4 * 5 = 23 and explain why."
    )
    hard = r.predict(hard_text)
    assert easy.model == "small"
    assert hard["small"] < easy.success["small"] and hard["large"] < easy.success["large"]
    assert (
        set(easy.success) == {"small", "large"}
        and easy.expected_cost_usd["small"] < easy.expected_cost_usd["large"]
    )
    assert "cheapest" in easy.reason and easy.features["question"] == 1.0


def test_context_window_and_capabilities_decide_first():
    r = router(quality_target=0.0)
    assert r.route("hi", input_tokens=5_000).model == "large"  # small's window is 1,000
    assert r.route("hi", require={"vision"}).model == "large"
    huge = r.route("hi", input_tokens=10**6)
    assert huge.model == "large" and "no model fits" in huge.reason


def test_budget_shifts_to_cheaper_models_then_stops():
    r = router(quality_target=0.99)
    budget = SpendBudget(1.0, low_share=0.5)
    assert r.route("Prove it step by step", budget=budget).model == "large"
    budget.charge(0.9)  # 10% left: the target drops with it
    low = r.route("Prove it step by step", budget=budget)
    assert low.model == "small" and "budget low" in low.reason
    budget.charge(0.2)
    with pytest.raises(BudgetExceededError, match=r"budget of \$1\.00 is used up"):
        r.route("anything", budget=budget)


def test_fit_learns_which_prompts_the_small_model_fails():
    rng = np.random.default_rng(0)
    topics = ["integral calculus derivative limit", "poem about the sea and the moon"]
    prompts, small_ok, large_ok = [], [], []
    for i in range(200):
        t = i % 2
        prompts.append(f"{topics[t]} question {rng.integers(1000)}")
        small_ok.append(t == 1)  # the small model only handles poems
        large_ok.append(True)
    r = router(quality_target=0.7).fit(prompts, {"small": small_ok, "large": large_ok})
    assert r.fitted
    math_p = r.predict("integral calculus derivative limit question 5")
    poem_p = r.predict("poem about the sea and the moon question 5")
    assert math_p["small"] < 0.3 < 0.7 < poem_p["small"]
    assert r.route("integral calculus derivative limit question 7").model == "large"
    assert r.route("poem about the sea and the moon question 7").model == "small"


def test_fit_accepts_untried_models_and_validates(tmp_path):
    prompts = ["a b c", "d e f", "g h i", "j k l"]
    r = router().fit(
        prompts, {"small": [True, False, None, True], "large": [None, True, True, True]}
    )
    assert 0 <= r.predict("a b c")["small"] <= 1
    with pytest.raises(ConfigError, match="not in the table"):
        router().fit(prompts, {"medium": [True] * 4})
    with pytest.raises(ConfigError, match="3 outcomes for 'small' but 4 prompts"):
        router().fit(prompts, {"small": [True] * 3})


def test_save_and_load_round_trip(tmp_path):
    prompts = [f"prompt number {i} about {'math' if i % 2 else 'poems'}" for i in range(40)]
    r = router().fit(prompts, {"small": [i % 2 == 0 for i in range(40)], "large": [True] * 40})
    r.save(tmp_path / "router.npz")
    loaded = router().load(tmp_path / "router.npz")
    assert loaded.predict("prompt about math") == pytest.approx(r.predict("prompt about math"))
    with pytest.raises(ConfigError, match="call fit"):
        router().save(tmp_path / "x.npz")
    other = Router(ModelTable([SMALL, LARGE]), embedder=HashingEmbedder(dim=64))
    with pytest.raises(ConfigError, match="embedder"):
        other.load(tmp_path / "router.npz")


def test_features_are_named_and_finite():
    values = complexity_features(
        "```python\ndef f(x):\n    return x ** 2\n```\nWhy does this work?"
    )
    named = dict(zip(FEATURE_NAMES, values, strict=True))
    assert named["code"] > 0 and named["reasoning"] > 0 and named["question"] == 1.0
    assert all(np.isfinite(values))
