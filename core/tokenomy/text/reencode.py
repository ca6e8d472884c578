"""Lossless re-encodings that say the same thing in fewer tokens.

Each transform keeps every fact: runs of whitespace collapse, JSON is minified, a
markdown table loses its alignment padding and separator row, and a line repeated
verbatim across documents (boilerplate such as footers) is kept once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["collapse_whitespace", "compact_table", "minify_json", "reencode", "remove_boilerplate"]

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")
_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def collapse_whitespace(text: str) -> str:
    """Runs of spaces to one, 3+ newlines to a blank line, trailing spaces removed."""
    lines = [_SPACES.sub(" ", line).rstrip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def minify_json(text: str) -> str:
    """JSON without insignificant whitespace; other text unchanged."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return text
    try:
        return json.dumps(json.loads(stripped), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text


def compact_table(text: str) -> str:
    """A markdown table without padding or its ``|---|`` separator row."""
    rows = [line for line in text.splitlines() if line.strip()]
    if len(rows) < 2 or not all(r.strip().startswith("|") for r in rows):
        return text
    out = []
    for row in rows:
        if _SEPARATOR_ROW.match(row):
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        out.append("|".join(cells))
    return "\n".join(out)


def remove_boilerplate(documents: Sequence[str], *, min_chars: int = 40) -> list[str]:
    """Documents with lines that repeat verbatim in several of them kept only the first time."""
    counts: Counter[str] = Counter()
    for doc in documents:
        counts.update({line.strip() for line in doc.splitlines() if len(line.strip()) >= min_chars})
    repeated = {line for line, n in counts.items() if n > 1}
    seen: set[str] = set()
    out = []
    for doc in documents:
        kept = []
        for line in doc.splitlines():
            key = line.strip()
            if key in repeated:
                if key in seen:
                    continue
                seen.add(key)
            kept.append(line)
        out.append("\n".join(kept))
    return out


def reencode(text: str) -> str:
    """Every lossless transform that applies to ``text``."""
    text = minify_json(text)
    if text.lstrip().startswith("|"):
        text = compact_table(text)
    return collapse_whitespace(text)
