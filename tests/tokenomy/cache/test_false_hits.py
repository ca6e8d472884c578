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


# twelve questions and their opposites, all stored in one scope (as in issue 12)
OPPOSITE_QUESTIONS = [
    ("Which file types are allowed in uploads?", "Which file types are forbidden in uploads?"),
    ("Does the plan include dental care?", "Does the plan exclude dental care?"),
    ("Is it legal to record a phone call?", "Is it illegal to record a phone call?"),
    ("Is tap water safe to drink in Mexico?", "Is tap water unsafe to drink in Mexico?"),
    ("What happens if I am over the weight limit?", "What happens if I am under the weight limit?"),
    ("Is coffee good for your heart?", "Is coffee bad for your heart?"),
    ("How do I upload photos to iCloud?", "How do I download photos from iCloud?"),
    ("How do I increase my credit limit?", "How do I decrease my credit limit?"),
    ("When should I buy Tesla stock?", "When should I sell Tesla stock?"),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
    ("What is the maximum dose of ibuprofen?", "What is the minimum dose of ibuprofen?"),
    ("What should I eat before a workout?", "What should I eat after a workout?"),
]


def test_opposite_questions_in_one_scope_never_get_each_others_answers():
    cache = SemanticCache()
    for i, (q, _) in enumerate(OPPOSITE_QUESTIONS):
        cache.store(q, Answer(payload=f"answer {i}", text="x"), scope="team")
    served = [cache.lookup(opposite, scope="team") for _, opposite in OPPOSITE_QUESTIONS]
    assert [hit.matched_query for hit in served if hit is not None] == []
    assert cache.lookup(OPPOSITE_QUESTIONS[0][0].lower(), scope="team").payload == "answer 0"
