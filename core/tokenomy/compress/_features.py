"""Parts of a segment's score that look beyond the segment: its document and its
neighbours, and the query's own numbers and names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from tokenomy.compress.scoring import lexical_coverage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tokenomy.text.segment import Segment

__all__ = [
    "QUESTION_TYPES",
    "answer_cues",
    "document_coverage",
    "document_rank",
    "index_in_document",
    "neighbours",
    "query_entities",
    "question_type",
]

_NUMBERS: Final = re.compile(r"\b\d[\d,.]*\b")
_NAMES: Final = re.compile(r"\b[A-Z][a-zA-Z0-9]+(?:\s+[A-Z][a-zA-Z0-9]+)*")


def document_coverage(
    segments: Sequence[Segment],
    words: Sequence[set[str]],
    terms: list[str],
    weights: dict[str, float],
) -> Any:
    """Per segment, the IDF-weighted share of the query terms its whole document holds.

    The passage that answers usually holds every query word somewhere, though rarely
    in the answer sentence itself."""
    import numpy as np

    union: dict[int, set[str]] = {}
    for seg, ws in zip(segments, words, strict=True):
        union.setdefault(seg.document, set()).update(ws)
    cover = {d: lexical_coverage(ws, terms, weights) for d, ws in union.items()}
    return np.array([cover[seg.document] for seg in segments])


def neighbours(relevance: Any, docs: Any) -> Any:
    """Per segment, the higher relevance of the segments just before and after it in
    the same document (0 at a document's edges)."""
    import numpy as np

    out = np.zeros(len(relevance))
    same = docs[1:] == docs[:-1]
    out[1:] = np.where(same, relevance[:-1], 0.0)
    out[:-1] = np.maximum(out[:-1], np.where(same, relevance[1:], 0.0))
    return out


def query_entities(query: str) -> set[str]:
    """Numbers and capitalized names of the query, lower-cased."""
    found = {m.group(0).lower() for m in _NUMBERS.finditer(query)}
    for m in _NAMES.finditer(query):
        name = m.group(0)
        if m.start() > 0 or " " in name:  # the question's first word is capitalized anyway
            found.add(name.lower())
    return {f for f in found if len(f) > 1}


QUESTION_TYPES: Final = {
    "ask_when": ("when", "what year", "which year", "in what year", "what date"),
    "ask_who": ("who", "whom", "whose"),
    "ask_where": ("where",),
    "ask_how_many": ("how many", "how much", "how long", "how old"),
    "ask_what": ("what", "which"),
}
"""Question types by their opening words (checked in order; the first match wins)."""
_YEAR: Final = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_MONTH: Final = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
_CAPITALIZED: Final = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zà-ÿ]+")
_MAX_NAMES: Final = 5


def question_type(query: str | None) -> dict[str, float]:
    """One-hot question type: ``ask_when``, ``ask_who``, …, ``ask_other``."""
    q = (query or "").lower().strip()
    found = next((name for name, starts in QUESTION_TYPES.items() if q.startswith(starts)), None)
    out = dict.fromkeys(QUESTION_TYPES, 0.0)
    out["ask_other"] = 0.0 if found else 1.0
    if found:
        out[found] = 1.0
    return out


def answer_cues(text: str, asked: set[str]) -> tuple[float, float, float]:
    """What kind of answer a segment could hold: (a year or month, a number, the count
    of capitalized words not in the question, capped at 5)."""
    date = float(bool(_YEAR.search(text) or _MONTH.search(text)))
    number = float(bool(_NUMBERS.search(text)))
    names = sum(1 for n in _CAPITALIZED.findall(text) if n.lower() not in asked)
    return date, number, float(min(names, _MAX_NAMES))


def index_in_document(docs: Any) -> Any:
    """Per segment, how many segments of its document come before it."""
    import numpy as np

    out = np.zeros(len(docs))
    seen: dict[int, int] = {}
    for k, d in enumerate(docs.tolist()):
        out[k] = seen.get(d, 0)
        seen[d] = int(out[k]) + 1
    return out


def document_rank(values: Any, docs: Any) -> Any:
    """Per segment, ``1 / (1 + rank)`` of its document when documents are ranked by
    their best ``values`` (1.0 for the best document)."""
    import numpy as np

    n = int(docs.max()) + 1 if len(docs) else 0
    best = np.full(n, -np.inf)
    np.maximum.at(best, docs, values)
    rank = np.empty(n)
    rank[np.argsort(-best, kind="stable")] = np.arange(n)
    return 1.0 / (1.0 + rank[docs])
