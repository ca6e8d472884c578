"""Splitting text into the units compression keeps or drops.

Fenced code blocks, JSON values, tables and list items are atomic: they are kept
or dropped whole, never cut inside. Prose is split into sentences by a rule-based
splitter that knows common abbreviations, initials and decimal numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from tokenomy.errors import ConfigError

__all__ = ["Granularity", "Segment", "SegmentKind", "segment_documents", "split_sentences"]

Granularity = Literal["sentence", "paragraph", "document"]
SegmentKind = Literal["sentence", "code", "json", "table", "list_item", "paragraph", "document"]

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_ABBREVIATIONS: Final = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "al",
        "fig",
        "no",
        "vol",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "a.m",
        "p.m",
    ]
)
# a sentence ends at . ! ? (optionally closing quotes/brackets) followed by space and a
# capital, digit or opening quote/bracket
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Ý])")


@dataclass(frozen=True, slots=True)
class Segment:
    """One unit of a document.

    Attributes:
        text: the segment's text (without its surrounding separators).
        kind: ``sentence``, ``code``, ``json``, ``table``, ``list_item``, ``paragraph``
            or ``document``; all but ``sentence`` and ``paragraph`` are atomic.
        document: index of the document it comes from.
        paragraph: index of its paragraph inside the document.
        first: whether it opens its paragraph (titles and lead sentences).
    """

    text: str
    kind: SegmentKind
    document: int
    paragraph: int
    first: bool


def split_sentences(text: str) -> list[str]:
    """Sentences of a prose paragraph (abbreviations, initials and decimals kept whole)."""
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[start : m.start()].rstrip()
        last_word = before.rsplit(None, 1)[-1] if before else ""
        token = last_word.rstrip(".!?\"')]").lower()
        if last_word.endswith(".") and (token in _ABBREVIATIONS or len(token) == 1):
            continue  # "Dr. Smith", "J. Doe", "U.S. Army"
        pieces.append(text[start : m.start()].strip())
        start = m.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _is_json(block: str) -> bool:
    stripped = block.strip()
    if not stripped or stripped[0] not in "[{":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def _paragraph_units(paragraph: str) -> list[tuple[str, SegmentKind]]:
    """Units of one paragraph: a JSON value, table rows as one table, list items, sentences."""
    if _is_json(paragraph):
        return [(paragraph.strip(), "json")]
    units: list[tuple[str, SegmentKind]] = []
    prose: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if prose:
            units.extend((s, "sentence") for s in split_sentences(" ".join(prose)))
            prose.clear()
        if table:
            units.append(("\n".join(table), "table"))
            table.clear()

    for line in paragraph.splitlines():
        if _TABLE_ROW.match(line):
            if prose:
                flush()
            table.append(line.strip())
        elif _LIST_ITEM.match(line):
            flush()
            units.append((line.strip(), "list_item"))
        elif units and units[-1][1] == "list_item" and line.startswith((" ", "\t")) and not prose:
            text, kind = units[-1]
            units[-1] = (f"{text} {line.strip()}", kind)  # a list item's continuation line
        else:
            if table:
                flush()
            prose.append(line.strip())
    flush()
    return units


def segment_documents(
    documents: Sequence[str], *, granularity: Granularity = "sentence"
) -> list[Segment]:
    """Segments of every document, in order.

    Args:
        documents: the texts (one per retrieved document, message, …).
        granularity: ``"sentence"`` (default; code, JSON, tables and list items stay
            whole), ``"paragraph"`` or ``"document"``.
    """
    if granularity not in ("sentence", "paragraph", "document"):
        raise ConfigError(
            f"granularity must be 'sentence', 'paragraph' or 'document'; got {granularity!r}."
        )
    out: list[Segment] = []
    for d, doc in enumerate(documents):
        if granularity == "document":
            if doc.strip():
                out.append(Segment(doc.strip(), "document", d, 0, True))
            continue
        pos = 0
        blocks: list[tuple[str, bool]] = []  # (text, is_code)
        for m in _FENCE.finditer(doc):
            blocks.append((doc[pos : m.start()], False))
            blocks.append((m.group(0), True))
            pos = m.end()
        blocks.append((doc[pos:], False))
        p = 0
        for text, is_code in blocks:
            if is_code:
                out.append(Segment(text.strip(), "code", d, p, True))
                p += 1
                continue
            for paragraph in re.split(r"\n\s*\n", text):
                if not paragraph.strip():
                    continue
                if granularity == "paragraph":
                    out.append(Segment(paragraph.strip(), "paragraph", d, p, True))
                else:
                    units = _paragraph_units(paragraph)
                    out.extend(Segment(u, k, d, p, i == 0) for i, (u, k) in enumerate(units))
                p += 1
    return out
