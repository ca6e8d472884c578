import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.compress import ExtractiveCompressor
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.tokens import count_tokens

DOCS = [
    "Paris is the capital of France. It has about 2.1 million residents. The Seine flows through it.",
    "Bananas are yellow. They grow in tropical regions. Bananas are rich in potassium.",
    "The Eiffel Tower was completed in 1889. It is 330 metres tall. Millions visit it each year.",
    "Mount Everest is the highest mountain. It stands 8,849 metres above sea level.",
]


@pytest.fixture
def compressor():
    return ExtractiveCompressor(embedder=HashingEmbedder())


@pytest.mark.parametrize("budget", [5, 12, 25, 40, 70])
def test_never_over_budget_and_order_kept(compressor, budget):
    result = compressor.compress(
        DOCS, query="When was the Eiffel Tower completed?", max_tokens=budget
    )
    assert result.compressed_tokens <= budget
    assert result.compressed_tokens == count_tokens(result.text, model="gpt-4o").tokens
    kept = [s for d in result.documents for s in d.replace("\n", " ").split(". ") if s]
    positions = [" ".join(DOCS).find(s.rstrip(".")) for s in kept]
    assert positions == sorted(positions)


def test_the_relevant_sentence_is_kept(compressor):
    result = compressor.compress(DOCS, query="When was the Eiffel Tower completed?", max_tokens=14)
    assert "1889" in result.text
    assert len(result.documents) == 4 and result.documents[1] == ""
    assert {d.reason for d in result.dropped} <= {
        "low importance",
        "over budget",
        "redundant",
        "duplicate",
    }


def test_ratio_is_met_within_a_few_percent(compressor):
    long_docs = [
        f"Station {i} recorded {i * 7} millimetres of rain in week {i}. "
        f"Observer number {i} noted wind from bearing {i * 11} degrees."
        for i in range(40)
    ]
    result = compressor.compress(long_docs, query="How much rain at station 12?", ratio=0.3)
    assert 0.27 <= result.ratio <= 0.30


def test_under_budget_context_is_returned_unchanged(compressor):
    result = compressor.compress("Short text.", query="x", max_tokens=100)
    assert (result.text, result.ratio, result.retention) == ("Short text.", 1.0, 1.0)


def test_empty_context(compressor):
    result = compressor.compress([], query="x", ratio=0.5)
    assert result.text == "" and result.compressed_tokens == 0


def test_one_giant_sentence_is_cut_at_a_word_boundary(compressor):
    giant = " ".join(f"word{i}" for i in range(400)) + "."
    result = compressor.compress(giant, query="word7", max_tokens=30)
    assert result.truncated and result.compressed_tokens <= 30
    assert giant.startswith(result.text) and not result.text.endswith("wor")


def test_protected_spans_are_always_kept(compressor):
    result = compressor.compress(
        DOCS, query="bananas", max_tokens=30, protected=["Mount Everest is the highest"]
    )
    assert "Mount Everest is the highest mountain." in result.text
    with pytest.raises(ConfigError, match="protected segments need"):
        compressor.compress(DOCS, query="x", max_tokens=3, protected=["Paris is the capital"])


def test_query_numbers_and_names_rank_first(compressor):
    result = compressor.compress(DOCS, query="Which structure dates from 1889?", max_tokens=12)
    assert "1889" in result.text


def test_min_retention_keeps_more_and_says_so(compressor):
    strict = compressor.compress(
        DOCS, query="Eiffel Tower height and visitors", max_tokens=10, min_retention=0.9
    )
    assert strict.retention_floor_applied and strict.retention >= 0.9
    assert strict.budget_tokens > 10 and strict.compressed_tokens <= strict.budget_tokens


def test_near_duplicates_are_kept_once(compressor):
    docs = [
        "The treaty was signed in 1648 in Westphalia.",
        "The treaty was signed in 1648 in Westphalia.",
        "Unrelated filler about cooking pasta in salted water.",
    ]
    result = compressor.compress(docs, query="When was the treaty signed?", ratio=0.7)
    assert result.text.count("1648") == 1


def test_without_a_query_central_content_wins(compressor):
    docs = ["Cats purr. Cats sleep a lot. Cats chase mice.", "Stock markets fell on Tuesday."]
    result = compressor.compress(docs, max_tokens=10)
    assert "Cats" in result.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Give a target"),
        ({"ratio": 0}, "ratio must be"),
        ({"ratio": 1.5}, "ratio must be"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"ratio": 0.5, "min_retention": 2}, "min_retention"),
    ],
)
def test_bad_targets(compressor, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        compressor.compress(DOCS, query="x", **kwargs)


def test_inputs_are_not_mutated(compressor):
    docs = list(DOCS)
    compressor.compress(docs, query="Paris", ratio=0.3)
    assert docs == DOCS


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), max_size=6), st.integers(0, 80))
def test_fuzzed_contexts_respect_the_budget(docs, budget):
    result = ExtractiveCompressor(embedder=HashingEmbedder()).compress(
        docs, query="what", max_tokens=budget
    )
    assert result.compressed_tokens <= max(budget, 0) or result.text == "\n\n".join(docs)


async def test_async(compressor):
    result = await compressor.acompress(DOCS, query="Eiffel", ratio=0.3)
    assert result.compressed_tokens <= result.budget_tokens


LONG_DOCS = [
    f"Station {i} recorded {i * 7} millimetres of rain in week {i}, mostly at night and "
    f"early in the morning. Observer number {i} noted wind from bearing {i * 11} degrees "
    "with gusts that bent the trees along the river."
    for i in range(30)
]


@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.2, 0.4])
def test_the_room_under_the_budget_is_filled_with_part_of_a_sentence(compressor, ratio):
    result = compressor.compress(LONG_DOCS, query="How much rain at station 12?", ratio=ratio)
    assert 0.97 * result.budget_tokens <= result.compressed_tokens <= result.budget_tokens
    assert result.compressed_tokens == count_tokens(result.text, model="gpt-4o").tokens
    for doc, kept in zip(LONG_DOCS, result.documents, strict=True):
        for piece in kept.split("\n"):
            assert piece in doc  # whole sentences, or a sentence's first words


def test_without_partial_fill_only_whole_sentences_are_kept():
    compressor = ExtractiveCompressor(embedder=HashingEmbedder(), partial_fill=False)
    result = compressor.compress(LONG_DOCS, query="rain at station 12", ratio=0.1)
    sentences = {s for d in LONG_DOCS for s in d.replace(". ", ".\n").split("\n")}
    kept = {s for d in result.documents for s in d.replace(". ", ".\n").split("\n") if s}
    assert kept <= sentences and result.compressed_tokens <= result.budget_tokens


def test_code_is_never_cut_to_fill_the_budget(compressor):
    code = "```python\n" + "\n".join(f"x_{i} = compute({i}, 'rain')" for i in range(30)) + "\n```"
    docs = [code, *LONG_DOCS[:5]]
    result = compressor.compress(docs, query="rain at station 3", max_tokens=60)
    assert result.documents[0] in ("", code)


def test_next_door_sentences_are_not_dropped_as_redundant():
    # each sentence is embedded with the end of the one before, so neighbours look alike
    docs = ["Alpha beta gamma delta epsilon. Alpha beta gamma delta zeta."]
    compressor = ExtractiveCompressor(embedder=HashingEmbedder(), redundancy=0.5)
    result = compressor.compress(
        docs + ["Filler words about cooking pasta slowly."] * 3, query="alpha beta", max_tokens=20
    )
    assert "epsilon" in result.text and "zeta" in result.text


class Recording(HashingEmbedder):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts += list(texts)
        return super().embed(texts)


@pytest.mark.parametrize("budget", [10, 30, 60])
def test_embed_documents_embeds_each_whole_document_and_keeps_the_budget(budget):
    on, off = Recording(), Recording()
    query = "When was the Eiffel Tower completed?"
    kept = ExtractiveCompressor(embedder=on, embed_documents=True).compress(
        DOCS, query=query, max_tokens=budget
    )
    ExtractiveCompressor(embedder=off).compress(DOCS, query=query, max_tokens=budget)
    assert on.texts[: len(off.texts)] == off.texts  # the same segments, then the documents
    assert on.texts[len(off.texts) :] == sorted(DOCS, key=len)
    assert kept.compressed_tokens <= budget
    assert "1889" in kept.text or budget < 14
