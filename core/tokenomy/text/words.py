"""Word tokens for lexical matching: lower-cased and lightly stemmed, so that
"migrating", "migration" and "migrates" meet, and so do "CFC's" and "CFCs".

Shared by compression (lexical relevance) and few-shot selection (word overlap).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["WORD", "stem", "words"]

WORD: Final = re.compile(r"[A-Za-z0-9À-ÿ]+(?:['’][a-z]+)?")
"""One word: letters and digits, with an optional apostrophe suffix ("CFC's")."""

_SUFFIXES: Final = (
    "ations",
    "ation",
    "ings",
    "ing",
    "ions",
    "ion",
    "ies",
    "ied",
    "ers",
    "er",
    "ed",
    "es",
    "ly",
    "s",
)


def stem(word: str) -> str:
    """A light suffix stripper: migrating/migration/migrates -> migrat; CFC's/CFCs -> cfc."""
    if word.endswith(("'s", "’s")):  # possessive
        word = word[:-2]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= (3 if suffix == "s" else 4):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed word tokens."""
    return [stem(w.lower()) for w in WORD.findall(text)]
