import numpy as np

from tokenomy.compress._embedding import CONTEXT_CHARS, EMBED_BATCH, embed_sorted, in_context
from tokenomy.compress._features import document_coverage, neighbours
from tokenomy.compress.scoring import query_terms
from tokenomy.embed import HashingEmbedder
from tokenomy.text.segment import segment_documents
from tokenomy.text.words import words


class RecordingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return super().embed(texts)


def test_embed_sorted_returns_rows_in_input_order_from_small_sorted_batches():
    texts = [f"text {'x' * (i * 7 % 23)} number {i}" for i in range(40)]
    fake = RecordingEmbedder()
    out = embed_sorted(fake, texts)
    assert np.allclose(out, HashingEmbedder(dim=64).embed(texts))
    assert all(len(call) <= EMBED_BATCH for call in fake.calls)
    lengths = [len(t) for call in fake.calls for t in call]
    assert lengths == sorted(lengths)


def test_embed_sorted_of_nothing():
    assert embed_sorted(HashingEmbedder(dim=16), []).shape == (0, 16)


def test_a_sentence_is_embedded_after_the_end_of_the_one_before():
    segs = segment_documents(
        [
            "The 2015 Rugby World Cup was the eighth one. The tournament was hosted by England.",
            "Another document starts here.",
        ]
    )
    assert in_context(segs, 0, 240) == segs[0].text
    assert in_context(segs, 1, 240) == f"{segs[0].text} {segs[1].text}"
    assert in_context(segs, 2, 240) == segs[2].text  # not across documents


def test_the_context_is_cut_at_a_word_boundary():
    long = "word " * 60 + "end."
    segs = segment_documents([f"{long} Next sentence here."])
    text = in_context(segs, 1, 240)
    context = text[: -len(segs[1].text) - 1]
    assert len(context) <= CONTEXT_CHARS and long.endswith(context) and context.startswith("word")


def test_possessives_and_short_plurals_match_their_word():
    assert words("CFC's") == words("CFCs") == words("cfc")


def test_neighbours_stay_inside_a_document():
    rel = np.array([0.1, 0.9, 0.2, 0.7])
    docs = np.array([0, 0, 0, 1])
    assert neighbours(rel, docs).tolist() == [0.9, 0.2, 0.9, 0.0]


def test_document_coverage_counts_the_query_words_of_the_whole_document():
    segs = segment_documents(["Paris is big. France is a country.", "Paris only."])
    toks = [set(words(s.text)) for s in segs]
    terms = query_terms("Paris, France?")
    cover = document_coverage(segs, toks, terms, dict.fromkeys(terms, 1.0))
    assert cover.tolist() == [1.0, 1.0, 0.5]
