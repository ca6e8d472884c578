"""Glossary substitution: long phrases repeated in a text, replaced by short terms.

A phrase of two to six words that recurs (``"Quarterly Financial Report"``) is
replaced by its initials (``"QFR"``) and the glossary is stated once at the top
(``Glossary: QFR = Quarterly Financial Report``). Nothing is lost, and nothing is
applied unless the tokenizer confirms that the new text, glossary included, is
shorter: BPE tokenizers often spell a common phrase in fewer tokens than a made-up
acronym, so the check is real, per phrase and for the whole text.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

__all__ = ["GlossaryResult", "abbreviate"]

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is"}
    | {"it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with"}
)
_JOINERS = frozenset({"of", "and", "for"})  # "Bank of England", "research and development"
GLOSSARY_HEADER = "Glossary: "


@dataclass(frozen=True)
class GlossaryResult:
    """A text with phrases abbreviated.

    Attributes:
        text: the new text, glossary line first (or the input, when nothing saves).
        glossary: abbreviation -> phrase, in the order stated.
        original_tokens / tokens: before and after, counted by the target tokenizer.
    """

    text: str
    glossary: dict[str, str] = field(default_factory=dict)
    original_tokens: int = 0
    tokens: int = 0

    @property
    def saved_tokens(self) -> int:
        return self.original_tokens - self.tokens


def _candidates(text: str, min_count: int) -> list[tuple[str, int]]:
    """Term-like phrases seen at least ``min_count`` times: 2-6 words within a clause,
    no stop words but "of", "and", "for" between content words."""
    words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
    counts: Counter[str] = Counter()
    for n in range(2, 7):
        for i in range(len(words) - n + 1):
            span = words[i : i + n]
            lowered = [w.lower() for w, _, _ in span]
            if lowered[0] in _STOP or lowered[-1] in _STOP:
                continue
            if any(w in _STOP and w not in _JOINERS for w in lowered[1:-1]):
                continue
            phrase = text[span[0][1] : span[-1][2]]
            if all(text[a[2] : b[1]] == " " for a, b in itertools.pairwise(span)):
                counts[phrase] += 1  # words joined by single spaces: no sentence breaks
    return [(p, c) for p, c in counts.items() if c >= min_count]


def _initials(phrase: str) -> str:
    return "".join(w[0].upper() for w in _WORD.findall(phrase) if w.lower() not in _STOP)


def abbreviate(
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    min_count: int = 3,
    max_terms: int = 12,
) -> GlossaryResult:
    """Replace recurring phrases by their initials where the tokenizer confirms a saving.

    Args:
        text: the text (a prompt, a context).
        model: whose tokenizer decides (default gpt-4o).
        min_count: a phrase must occur at least this many times.
        max_terms: at most this many glossary entries.

    Example:
        >>> doc = "The Department of Homeland Security said so. " * 5
        >>> result = abbreviate(doc)
        >>> result.glossary, result.original_tokens, result.tokens
        ({'DHS': 'Department of Homeland Security'}, 41, 36)
        >>> abbreviate("The Quarterly Report is late. " * 5).glossary  # no saving: unchanged
        {}
    """
    counter = TokenCounter(model)
    original = counter.count(text)
    glossary: dict[str, str] = {}
    current = text
    ranked = []
    for phrase, count in _candidates(text, min_count):
        short = _initials(phrase)
        if len(short) < 2 or re.search(rf"\b{re.escape(short)}\b", text):
            continue
        gain = count * (counter.count(" " + phrase) - counter.count(" " + short))
        gain -= counter.count(f"; {short} = {phrase}")
        if gain > 0:
            ranked.append((gain, phrase, short))
    for _, phrase, short in sorted(ranked, key=lambda g: (-g[0], g[1])):
        if len(glossary) >= max_terms or short in glossary or phrase not in current:
            continue
        pattern = re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])")
        candidate = pattern.sub(short, current)
        if _tokens(counter, candidate, {**glossary, short: phrase}) < _tokens(
            counter, current, glossary
        ):
            current = candidate
            glossary[short] = phrase
    if not glossary:
        return GlossaryResult(text, {}, original, original)
    final = _with_header(current, glossary)
    tokens = counter.count(final)
    if tokens >= original:  # the whole text must be shorter, not just each phrase
        return GlossaryResult(text, {}, original, original)
    return GlossaryResult(final, glossary, original, tokens)


def _with_header(text: str, glossary: dict[str, str]) -> str:
    entries = "; ".join(f"{k} = {v}" for k, v in glossary.items())
    return f"{GLOSSARY_HEADER}{entries}\n\n{text}"


def _tokens(counter: TokenCounter, text: str, glossary: dict[str, str]) -> int:
    return counter.count(_with_header(text, glossary) if glossary else text)
