"""Importance of each segment: relevance to the query, information, position, and
the query's own numbers and names.

Relevance mixes the embedding similarity of the segment to the query with a
lexical (IDF-weighted) coverage of the query's words, and adds the relevance of
the segment's document, so a sentence of an on-topic passage outranks an equally
worded sentence of an off-topic one. Without a query, centrality (similarity to
the whole context) stands in for relevance.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tokenomy.text.words import WORD, stem, words

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Weights", "answer_type_bonus", "idf", "lexical_coverage", "query_terms"]

_STOP: Final = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "than",
        "then",
        "so",
        "such",
        "into",
        "about",
        "over",
        "under",
        "after",
        "before",
        "between",
        "during",
        "through",
        "up",
        "down",
        "out",
        "off",
        "again",
        "further",
        "once",
        "here",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "own",
        "same",
        "too",
        "very",
        "just",
        "also",
        "only",
        "first",
        "last",
        "one",
        "two",
        "get",
        "got",
        "called",
        "name",
        "named",
    ]
)
_YEAR: Final = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_NUMBER: Final = re.compile(r"\b\d[\d,.]*\b")
_CAPITALIZED: Final = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zà-ÿ]+")
_MONTHS: Final = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
)


@dataclass(frozen=True, slots=True)
class Weights:
    """How the parts of a segment's importance add up (each part is in [0, 1]).

    Attributes:
        relevance: embedding similarity of the segment (after the end of the one
            before it) to the query, min-max scaled over the context.
        lexical: IDF-weighted share of the query's words in the segment.
        document: the best similarity to the query of its document's lead or of an
            embedded segment of its document.
        information, position, answer_type, query_entity: mean IDF of its words,
            opening a paragraph, holding the kind of answer asked for, holding the
            query's numbers and names.
        neighbour: the higher relevance of the segments next to it.
        document_lexical: IDF-weighted share of the query's words in its document.
        lead: similarity of its document's lead to the query, min-max scaled.
        whole_document: similarity of its whole document to the query, min-max scaled
            (only with ``ExtractiveCompressor(embed_documents=True)``). Heavy on purpose:
            documents are ranked first, then sentences within them (2.4 tied 4.8 as best of
            0.15 to 4.8 on 300 NaturalQuestions questions outside the benchmark's
            reported sets, and tied 1.2 on 500 more).

    The document parts weigh as much as the segment's own: among passages on the
    same topic, the answer sentence often shares no word with the question, while
    its passage does (fitted on NaturalQuestions, ``benchmarks/compress_nq.py``).
    """

    relevance: float = 0.25
    lexical: float = 0.15
    document: float = 0.30
    information: float = 0.25
    position: float = 0.03
    answer_type: float = 0.08
    query_entity: float = 0.05
    neighbour: float = 0.10
    document_lexical: float = 0.25
    lead: float = 0.15
    whole_document: float = 2.4


def query_terms(query: str) -> list[str]:
    """The query's content words (stopwords dropped, order kept, no repeats)."""
    raw = [w.lower() for w in WORD.findall(query)]
    return list(dict.fromkeys(stem(w) for w in raw if w not in _STOP))


def idf(segments: Sequence[Sequence[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over the segments."""
    n = len(segments)
    df: Counter[str] = Counter()
    for toks in segments:
        df.update(set(toks))
    return {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}


def lexical_coverage(tokens: set[str], terms: Sequence[str], weights: dict[str, float]) -> float:
    """IDF-weighted share of the query terms present in a segment, in [0, 1]."""
    total = sum(weights.get(t, 0.0) for t in terms)
    if total <= 0:
        return 0.0
    return sum(weights.get(t, 0.0) for t in terms if t in tokens) / total


def answer_type_bonus(query: str, text: str) -> float:
    """1.0 when a segment holds the kind of thing the question asks for.

    "when/what year" -> a year or month; "how many/much" -> a number; "who" -> a
    capitalized name that is not in the question.
    """
    q = query.lower().strip()
    if q.startswith(("when", "what year", "which year", "in what year", "what date")):
        return 1.0 if _YEAR.search(text) or _MONTHS.search(text) else 0.0
    if q.startswith(("how many", "how much", "how long", "how old", "how tall", "how far")):
        return 1.0 if _NUMBER.search(text) else 0.0
    if q.startswith(("who", "whom", "whose")):
        asked = set(words(query))
        names = [n for n in _CAPITALIZED.findall(text) if n.lower() not in asked]
        return 1.0 if names else 0.0
    return 0.0


def information(tokens: Sequence[str], weights: dict[str, float], top: float) -> float:
    """Mean IDF of a segment's words, scaled to [0, 1] by the context's highest."""
    if not tokens or top <= 0:
        return 0.0
    return min(1.0, sum(weights.get(t, 0.0) for t in tokens) / len(tokens) / top)


def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max scaling to [0, 1] (all zeros when constant)."""
    import numpy as np

    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.zeros_like(values)
    scaled: np.ndarray = (values - lo) / (hi - lo)
    return scaled
