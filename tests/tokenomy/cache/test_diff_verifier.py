"""The difference-aware verifier, the error bound and hit feedback."""

import json
from pathlib import Path

import numpy as np
import pytest

from tokenomy.cache import Answer, SemanticCache
from tokenomy.cache.diff_verifier import FEATURES, DiffVerifier
from tokenomy.cache.differences import diff, words
from tokenomy.cache.error_bound import ErrorBound
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError

CONTRAST = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "cache_contrast.jsonl"


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("Why is my phone charging?", "Why is my phone not charging?", "negation"),
        ("Can I change my username?", "Can't I change my username?", "negation"),
        ("Is it safe to eat raw eggs?", "Is it unsafe to eat raw eggs?", "antonym"),
        ("How do I enable notifications?", "How do I disable notifications?", "antonym"),
        ("Make it longer.", "Make it shorter.", "antonym"),
        ("Show me orders over $100.", "Show me orders under $100.", "direction"),
        ("Do you ship to Canada?", "Do you ship from Canada?", "direction"),
        ("How do I convert miles to km?", "How do I convert km to miles?", "swapped_args"),
        ("What is 12 divided by 4?", "What is 4 divided by 12?", "swapped_args"),
        ("Is 97 a prime number?", "Is 91 a prime number?", "numbers"),
        ("Who was the first man on the Moon?", "Who was the second man on the Moon?", "ordinal"),
        ("How many grams are in a pound?", "How many grams are in an ounce?", "units"),
        ("What's the weather today?", "What's the weather tomorrow?", "dates"),
        ("What is the capital of Peru?", "What is the capital of Chile?", "entities"),
        ("Do all mammals lay eggs?", "Do some mammals lay eggs?", "quantifier"),
        ("Can I delete only my messages?", "Can I delete my messages?", "scope"),
        ("Can I take antibiotics with milk?", "Should I take antibiotics with milk?", "modality"),
    ],
)
def test_meaning_changing_differences_are_named(a, b, reason):
    assert diff(a, b).reason == reason
    assert diff(b, a).reason == reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I reset my password?", "How can I reset my password?"),  # function words
        ("What is a closure in JavaScript?", "What are closures in JavaScript?"),  # inflection
        ("How do I reverse a list in Python?", "In Python, how do I reverse a list?"),  # order
        ("How many km is a marathon?", "How many kilometers is a marathon?"),  # units spelled
        ("How many ounces are in a pound?", "How many oz are in a lb?"),  # abbreviations
        ("Who was the first president?", "Who was the 1st president?"),  # ordinals written
        ("What is the colour of the sky?", "What is the color of the sky?"),  # spelling
        ("Why won't my car start?", "Why doesn't my car start?"),  # both negated
        ("Can you explain that again?", "Could you explain that again?"),  # can ~ could
    ],
)
def test_harmless_differences_are_not_refused(a, b):
    d = diff(a, b)
    assert d.reason is None, d
    assert d.features[DIFF_INDEX["function_only"]] == 1.0 or d.only_a or d.only_b


DIFF_INDEX = {name: i for i, name in enumerate(FEATURES)}


def test_words_open_contractions_and_canonicalize_units():
    assert words("What's 5 km in miles? It doesn't matter") == (
        "what", "is", "5", "kilometer", "in", "mile", "it", "does", "not", "matter",
    )  # fmt: skip


def _verifier(**kw):
    calibration = {"scores": [0.99] * 300 + [0.2] * 30, "same": [True] * 300 + [False] * 30}
    base = {
        "coef": (0.0,) * len(FEATURES),
        "intercept": 5.0,
        "threshold": 0.5,
        "calibration": calibration,
    }
    return DiffVerifier(**{**base, "min_similarity": 0.5, **kw})


def test_check_refuses_with_a_reason_and_accepts_with_a_score():
    v = _verifier()
    u = np.eye(384, dtype=np.float32)[0]
    refused = v.check("Is coffee good for you?", "Is coffee bad for you?", u, u)
    assert not refused.ok and refused.reason == "antonym" and "good" in refused.detail
    served = v.check("How do I reset my password?", "How can I reset my password?", u, u)
    assert served.ok and served.score > 0.99
    low = _verifier(intercept=-5.0).check("How do I fix it?", "How can I repair it?", u, u)
    assert not low.ok and low.reason == "content_words"
    far = v.check("a", "b", u, np.eye(384, dtype=np.float32)[1])
    assert not far.ok and "cosine" in far.detail


def test_weights_round_trip_and_bad_weights_say_what_to_do():
    v = DiffVerifier.default()
    assert len(v.coef) == len(FEATURES) and 0.0 < v.threshold < 1.0
    assert len(v.calibration["scores"]) == len(v.calibration["same"]) > 100
    with pytest.raises(ConfigError, match="fit_diff_verifier"):
        DiffVerifier.from_dict({"features": ["cosine"], "coef": [1.0]})
    with pytest.raises(ConfigError, match="coefficients"):
        DiffVerifier(coef=(1.0,), intercept=0.0, threshold=0.5, min_similarity=0.5)


def test_error_bound_tightens_per_scope_and_never_below_its_floor():
    scores = [0.9] * 200 + [0.45] * 20
    same = [True] * 200 + [False] * 20
    bound = ErrorBound(0.02, scores=scores, same=same, floor=0.3)
    start = bound.threshold("a")
    assert 0.45 < start <= 0.9 and bound.threshold("b") == start
    for _ in range(5):
        bound.served("a", 0.9)
        bound.record("a", 0.9, correct=False)
    assert bound.threshold("a") > 0.9  # five wrong hits at 0.9: stop serving in scope a
    assert bound.threshold("b") == start
    assert bound.estimate("a") > bound.estimate("b")
    loose = ErrorBound(0.5, scores=[0.1] * 50 + [0.5] * 50, same=[True] * 100, floor=0.3)
    assert loose.threshold("x") == 0.3
    with pytest.raises(ConfigError, match="max_error"):
        ErrorBound(1.5, scores=scores, same=same)


def _cache(**kw):
    cache = SemanticCache(embedder=HashingEmbedder(), similarity=0.0, verifier=_verifier(), **kw)
    cache.store("How do I reset my password?", Answer(payload="A", text="A"), scope="s")
    cache.store("Is coffee good for you?", Answer(payload="B", text="B"), scope="s")
    return cache


def test_feedback_names_a_hit_and_a_wrong_hit_is_not_served_again():
    cache = _cache()
    hit = cache.lookup("How can I reset my password?", scope="s")
    assert hit is not None and hit.kind == "semantic" and len(hit.hit_id) == 16
    assert cache.lookup("Is coffee bad for you?", scope="s") is None
    assert cache.stats().rejected["antonym"] == 1
    assert cache.feedback(hit.hit_id, correct=False)
    assert cache.lookup("How can I reset my password?", scope="s") is None
    assert cache.stats().rejected["reported wrong"] == 1
    assert not cache.feedback("not-an-id", correct=False)
    assert cache.stats().feedback == {"wrong": 1, "unknown hit id": 1}
    exact = cache.lookup("How do I reset my password?", scope="s")
    assert exact is not None and exact.kind == "exact" and exact.hit_id == ""


def test_max_error_reports_its_estimate_and_needs_a_calibrated_verifier():
    cache = _cache(max_error=0.01)
    cache.lookup("How can I reset my password?", scope="s")
    stats = cache.stats()
    assert stats.max_error == 0.01 and 0.0 < stats.error_estimate["s"] < 1.0
    with pytest.raises(ConfigError, match="calibration"):
        SemanticCache(embedder=HashingEmbedder(), verifier="qqp", max_error=0.01)


def test_verifier_names():
    assert isinstance(SemanticCache(embedder=HashingEmbedder()).verifier, DiffVerifier)
    assert type(SemanticCache(embedder=HashingEmbedder(), verifier="qqp").verifier).__name__ == (
        "PairVerifier"
    )
    with pytest.raises(ConfigError, match="valid names"):
        SemanticCache(embedder=HashingEmbedder(), verifier="nope")  # type: ignore[arg-type]


@pytest.mark.slow
def test_real_model_on_contrast_pairs():
    """The shipped verifier with MiniLM on a handful of contrast pairs (from the issue)."""
    rows = [json.loads(x) for x in CONTRAST.read_text("utf-8").splitlines() if x]
    picks = {
        ("Is coffee good for you?", "Is coffee bad for you?"),
        ("Show me orders over $100.", "Show me orders under $100."),
        (
            "Is it safe to take ibuprofen with alcohol?",
            "Is it unsafe to take ibuprofen with alcohol?",
        ),
        ("Which city is the capital of France?", "What is the capital of France?"),
        ("Who is the author of Pride and Prejudice?", "Who wrote Pride and Prejudice?"),
        ("How does TCP differ from UDP?", "What is the difference between TCP and UDP?"),
    }
    chosen = [r for r in rows if (r["a"], r["b"]) in picks]
    assert len(chosen) == len(picks)
    for i, r in enumerate(chosen):
        cache = SemanticCache()
        cache.store(r["a"], Answer(payload="x", text="x"), scope=f"p{i}")
        served = cache.lookup(r["b"], scope=f"p{i}") is not None
        assert served == r["same"], r


def test_contrast_set_is_balanced_and_split_by_family():
    rows = [json.loads(x) for x in CONTRAST.read_text("utf-8").splitlines() if x]
    assert len(rows) >= 600
    assert 0.45 <= sum(r["same"] for r in rows) / len(rows) <= 0.55
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["group"], r["split"]) == r["split"]
    assert {r["split"] for r in rows} == {"tune", "test"}
    assert len({r["domain"] for r in rows}) >= 8
