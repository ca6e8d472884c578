"""The default cache (real MiniLM, guards, verifier fitted on QQP) against false hits."""

import pytest

from tokenomy.cache import Answer, SemanticCache
from tokenomy.cache.guards import check_pair
from tokenomy.cache.verifier import PairVerifier, calibrate
from tokenomy.embed import default_embedder
from tokenomy.errors import ConfigError

pytestmark = pytest.mark.slow  # loads the real embedding model

STORED = {
    "What is the function of money?": "Money is a medium of exchange, a unit of account...",
    "What was the tallest building in 2010?": "Burj Khalifa.",
    "Can I take ibuprofen while pregnant?": "Ask your doctor; generally avoid it after 20 weeks.",
    "How do I reset my password?": "Use 'Forgot password' on the sign-in page.",
    "How do I convert Celsius to Fahrenheit?": "Multiply by 9/5 and add 32.",
}


@pytest.fixture(scope="module")
def cache():
    c = SemanticCache()  # the defaults users get
    for q, a in STORED.items():
        c.store(q, Answer(payload=a, text=a))
    return c


@pytest.mark.parametrize(
    "question",
    [
        "What is the function of TV?",
        "What was the tallest building in 2020?",
        "Can I not take ibuprofen while pregnant?",
        "Can I take aspirin while pregnant?",
        "How do I convert Fahrenheit to Celsius?",
        "How do I reset my username?",
    ],
)
def test_near_misses_are_not_served(cache, question):
    assert cache.lookup(question) is None


@pytest.mark.parametrize(
    ("question", "stored"),
    [
        ("How can I reset my password?", "How do I reset my password?"),
        ("what is the function of money", "What is the function of money?"),
    ],
)
def test_paraphrases_are_served(cache, question, stored):
    hit = cache.lookup(question)
    assert hit is not None and hit.matched_query == stored and hit.kind == "semantic"
    assert hit.score is not None and hit.score >= cache.verifier.threshold


def test_rejections_are_counted_by_reason(cache):
    cache.lookup("What was the tallest building in 1990?")
    assert sum(cache.stats().rejected.values()) >= 1


def test_guard_reasons_name_the_difference():
    verdict = check_pair("tallest building in 2010", "tallest building in 2020")
    assert not verdict.ok and "2010" in verdict.reason and "2020" in verdict.reason
    assert check_pair("How do I learn Python?", "How can I learn Python?").ok


def test_calibrate_chooses_a_threshold_for_the_users_pairs():
    pairs = [
        ("How do I reset my password?", "How can I reset my password?", True),
        ("What is the refund policy?", "What's your refund policy?", True),
        ("How do I cancel my plan?", "How can I cancel my subscription plan?", True),
        ("Where is my invoice?", "Where can I find my invoice?", True),
        ("How do I reset my password?", "How do I reset my username?", False),
        ("What is the refund policy?", "What is the shipping policy?", False),
        ("How do I cancel my plan?", "How do I upgrade my plan?", False),
        ("Where is my invoice?", "Where is my receipt printer?", False),
    ]
    cal = calibrate(pairs, embedder=default_embedder(), target_precision=1.0)
    assert cal.precision == 1.0 and 0 < cal.recall <= 1.0 and cal.n_pairs == 8
    tuned = PairVerifier.default().with_threshold(cal.threshold)
    assert tuned.threshold == cal.threshold
    with pytest.raises(ConfigError, match="target_precision"):
        calibrate(pairs, embedder=default_embedder(), target_precision=1.5)
    with pytest.raises(ConfigError):
        calibrate([p for p in pairs if p[2]], embedder=default_embedder())
    with pytest.raises(ConfigError):
        calibrate([], embedder=default_embedder())
