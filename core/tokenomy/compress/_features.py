"""Parts of a segment's score that look beyond the segment: its document and its
neighbours, and the query's own numbers and names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from tokenomy.compress.scoring import lexical_coverage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tokenomy.text.segment import Segment

__all__ = ["document_coverage", "neighbours", "query_entities"]

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
