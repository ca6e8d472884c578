"""The polarity guard on a labelled pair set: opposites vetoed, paraphrases passed."""

import pytest

from tokenomy.cache.guards import GUARDS, analyze, check_pair, opposite_words

# (query, cached question): the same words but opposite meanings; each must be vetoed
OPPOSITES = [
    ("Which file types are allowed in uploads?", "Which file types are forbidden in uploads?"),
    ("Does the plan include dental care?", "Does the plan exclude dental care?"),
    ("Is it legal to record a phone call?", "Is it illegal to record a phone call?"),
    ("Is tap water safe to drink in Mexico?", "Is tap water unsafe to drink in Mexico?"),
    ("What happens if I am over the weight limit?", "What happens if I am under the weight limit?"),
    ("Is coffee good for your heart?", "Is coffee bad for your heart?"),
    ("Are pets permitted in the apartment?", "Are pets prohibited in the apartment?"),
    ("How do I upload photos to iCloud?", "How do I download photos from iCloud?"),
    ("How do I import contacts into Gmail?", "How do I export contacts from Gmail?"),
    ("How do I increase my credit limit?", "How do I decrease my credit limit?"),
    (
        "How to sort a list in ascending order in Python?",
        "How to sort a list in descending order in Python?",
    ),
    ("When should I buy Tesla stock?", "When should I sell Tesla stock?"),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
    ("How can I encrypt a PDF file?", "How can I decrypt a PDF file?"),
    ("What is the maximum dose of ibuprofen?", "What is the minimum dose of ibuprofen?"),
    (
        "Is it possible to travel faster than light?",
        "Is it impossible to travel faster than light?",
    ),
    ("What are the advantages of remote work?", "What are the disadvantages of remote work?"),
    ("What should I eat before a workout?", "What should I eat after a workout?"),
    ("Why do I feel hot at night?", "Why do I feel cold at night?"),
    ("How do I add a user to a group in Linux?", "How do I remove a user from a group in Linux?"),
    ("Is this mushroom toxic?", "Is this mushroom non-toxic?"),
    ("Why is my upload speed high?", "Why is my upload speed low?"),
    ("Which foods raise blood pressure the most?", "Which foods raise blood pressure the least?"),
    ("How do I scale up a Kubernetes deployment?", "How do I scale down a Kubernetes deployment?"),
]

# (query, cached question): the same question; none may be vetoed
SAME = [
    ("How do I learn Python fast?", "How can I learn Python quickly?"),
    ("What are the advantages and disadvantages of Java?", "What are the pros and cons of Java?"),
    (
        "What are the advantages and disadvantages of nuclear power?",
        "What are the disadvantages and advantages of nuclear power?",
    ),
    ("Is it legal to own a drone?", "Is owning a drone legal?"),
    ("Which items are allowed in carry-on bags?", "What items are allowed in my carry-on?"),
    ("How do I download videos from YouTube?", "How can I download a YouTube video?"),
    (
        "What is the difference between linear and non linear devices?",
        "What is the difference between linear and nonlinear devices?",
    ),
    ("Is coffee good or bad for you?", "Is coffee bad for your health?"),
    ("How do I include a header file in C?", "How to include header files in C?"),
    ("What is the best way to lose weight?", "How can I lose weight?"),
    ("How do I sell my car online?", "Where can I sell my car online?"),
    ("Is it safe to use public Wi-Fi?", "Is public Wi-Fi safe?"),
    ("How do I reset my password?", "How can I reset my password?"),
    ("Why is the sky blue?", "Why does the sky look blue?"),
    ("How do I increase my productivity?", "How can I increase my productivity at work?"),
    ("What are some good books to read?", "Which good books should I read?"),
    ("How do I close a bank account?", "How can I close my bank account?"),
    ("How can I improve my English?", "How do I improve my English speaking?"),
    ("How do I export a table to CSV in MySQL?", "How can I export a MySQL table as CSV?"),
    ("What is the minimum wage in California?", "What's California's minimum wage?"),
    ("Is it possible to learn guitar at 40?", "Can I learn guitar at 40?"),
    ("How do I start a business?", "How can I start my own business?"),
    ("What is machine learning?", "What's machine learning?"),
    ("How do I become a better writer?", "How can I become a better writer?"),
]


def _vetoed(pairs):
    return [(q, c) for q, c in pairs if not check_pair(q, c).ok]


def test_polarity_is_a_default_guard():
    assert "polarity" in GUARDS


def test_opposites_are_vetoed_and_paraphrases_pass():
    caught = len(_vetoed(OPPOSITES))
    passed = len(SAME) - len(_vetoed(SAME))
    # measured on this set: 24 of 24 opposites vetoed, 24 of 24 paraphrases passed
    assert caught == len(OPPOSITES), [p for p in OPPOSITES if p not in _vetoed(OPPOSITES)]
    assert passed == len(SAME), _vetoed(SAME)


@pytest.mark.parametrize(("query", "cached"), OPPOSITES[:8])
def test_the_polarity_guard_is_what_vetoes_opposites(query, cached):
    others = tuple(g for g in GUARDS if g != "polarity")
    assert check_pair(query, cached, guards=others).ok  # the older guards let it through
    verdict = check_pair(query, cached)
    assert verdict.reason.startswith("polarity differs")


def test_a_text_holding_both_words_opposes_nothing():
    a = analyze("What are the advantages and disadvantages of Java?")
    assert opposite_words(a, analyze("What are the disadvantages of Java?")) is None
    assert opposite_words(analyze("Is it legal?"), analyze("Is it illegal?")) == (
        "legal",
        "illegal",
    )


def test_long_rewrites_are_left_to_the_verifier():
    # more than two content words differ: the guard stays out, as the negation guard does
    assert check_pair(
        "Which items are allowed in hand luggage on European flights?",
        "What is forbidden to carry in a cabin bag when flying around the EU?",
    ).ok
