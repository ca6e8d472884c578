"""Where an answer may be cut, cutting it there, and saying what a cut answer lacks.

A boundary is a position after which the text before it reads as finished: the end
of a sentence, a line (a list item, a heading), a paragraph, a closed code fence or
a complete JSON value. Nothing inside a code fence, a JSON value or an inline code
span is a boundary, so a cut never leaves half a code block or half an object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from tokenomy.errors import ConfigError
from tokenomy.text.cut import longest_prefix

if TYPE_CHECKING:
    from tokenomy.tokens.counter import TokenCounter

__all__ = [
    "CUT_AT",
    "BoundaryKind",
    "Completeness",
    "Cut",
    "CutAt",
    "boundaries",
    "check_complete",
    "cut_at_boundary",
    "json_value_end",
]

BoundaryKind = Literal["sentence", "line", "paragraph", "code", "json", "end"]
CutAt = Literal["sentence", "paragraph"]
CUT_AT: Final[dict[CutAt, frozenset[str]]] = {
    "sentence": frozenset({"sentence", "line", "paragraph", "code", "json", "end"}),
    "paragraph": frozenset({"paragraph", "code", "json", "end"}),
}
"""The boundary kinds each ``cut_at`` granularity may cut at."""

_FENCE_LINE = re.compile(r"[ \t]*(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?…][\"')\]*_]*(?=\s|$)")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|Dr|Mr|Mrs|Ms|St|No|Fig)|\b[A-Z])\.$")


@dataclass(frozen=True, slots=True)
class Cut:
    """A text cut at a boundary.

    Attributes:
        text: the kept prefix (the whole text when it fit).
        kind: the boundary it ends at (``"end"``: nothing was cut; ``None``: no
            boundary fit, so nothing was kept).
        original_tokens: tokens of the whole text.
        tokens: tokens kept.
    """

    text: str
    kind: BoundaryKind | None
    original_tokens: int
    tokens: int

    @property
    def cut(self) -> bool:
        """Whether anything was dropped."""
        return self.tokens < self.original_tokens


@dataclass(frozen=True, slots=True)
class Completeness:
    """What a (possibly cut) answer lacks.

    Attributes:
        issues: ``"unclosed code fence"``, ``"unbalanced JSON"``, ``"cut mid-sentence"``;
            empty when the answer reads as finished.
    """

    issues: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.issues


def json_value_end(text: str, start: int) -> int | None:
    """The end of the JSON object or array opening at ``text[start]``, or None while
    it is still open (brackets inside strings are not counted)."""
    depth = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def boundaries(text: str) -> Iterator[tuple[int, BoundaryKind]]:
    """Positions where ``text`` may be cut, in order, with their kind.

    Example:
        >>> [k for _, k in boundaries("One. Two\\n\\n```\\na. b\\n```\\n")]
        ['sentence', 'paragraph', 'code']
    """
    pos = 0
    n = len(text)
    while pos < n:
        eol = text.find("\n", pos)
        line_end = n if eol < 0 else eol
        stripped = text[pos:line_end].lstrip(" \t")
        if _FENCE_LINE.match(text, pos):  # a code block: one unit, up to its closing fence
            fence = stripped[:3]
            close = re.compile(rf"^[ \t]*{re.escape(fence)}[ \t]*$", re.M)
            m = close.search(text, line_end + 1) if eol >= 0 else None
            if m is None:
                return  # unclosed: no boundary inside it or after it
            pos = m.end()
            yield pos, "code"
            pos += 1 if pos < n and text[pos] == "\n" else 0
            continue
        if stripped[:1] in ("{", "["):
            start = pos + len(text[pos:line_end]) - len(stripped)
            end = json_value_end(text, start)
            if end is None:
                if stripped[:1] == "{":
                    return  # an unclosed object: nothing after its start is a boundary
            else:
                yield end, "json"
                pos = end
                continue
        yield from _line_boundaries(text, pos, line_end)
        if eol < 0:
            return
        if stripped.strip():  # a blank line ends nothing of its own
            blank = text[eol + 1 : eol + 2] == "\n"
            yield eol, "paragraph" if blank else "line"
        pos = eol + 1


def _line_boundaries(text: str, start: int, end: int) -> Iterator[tuple[int, BoundaryKind]]:
    """Sentence ends inside one prose line (none inside inline code)."""
    line = text[start:end]
    ticks = [m.start() for m in re.finditer("`", line)]
    for m in _SENTENCE_END.finditer(line):
        at = m.end()
        if at == len(line) or sum(1 for t in ticks if t < at) % 2:
            continue  # the line end is its own boundary; inside `code` is none
        if _ABBREVIATION.search(line[: m.start() + 1]):
            continue
        yield start + at, "sentence"


def cut_at_boundary(
    text: str,
    max_tokens: int,
    *,
    counter: TokenCounter | None = None,
    count: Callable[[str], int] | None = None,
    cut_at: CutAt = "sentence",
) -> Cut:
    """The longest prefix of ``text`` that ends at a boundary and fits ``max_tokens``.

    Args:
        text: the answer.
        max_tokens: the most tokens kept (>= 0).
        counter: counts tokens (default: ``count``, else the default model's counter).
        count: instead of ``counter``, any ``str -> int`` function.
        cut_at: ``"sentence"`` (default: any boundary) or ``"paragraph"`` (paragraphs,
            code blocks and JSON values only).

    Returns:
        A :class:`Cut`; its text is ``""`` when no boundary fits (a cut never ends
        inside a unit, even to keep something).

    Example:
        >>> cut_at_boundary("Yes. It works.\\n\\n```py\\nx = 1\\n```", 5, count=len).text
        'Yes.'
    """
    if max_tokens < 0:
        raise ConfigError(f"max_tokens must be >= 0; got {max_tokens!r}.")
    if cut_at not in CUT_AT:
        raise ConfigError(f"cut_at must be one of {sorted(CUT_AT)}; got {cut_at!r}.")
    measure = count or _counting(counter)
    total = measure(text)
    if total <= max_tokens:
        return Cut(text, "end", total, total)
    allowed = CUT_AT[cut_at]
    points = [(p, k) for p, k in boundaries(text) if k in allowed and p > 0]
    best = longest_prefix(len(points), lambda i: measure(text[: points[i - 1][0]]) <= max_tokens)
    if best == 0:
        return Cut("", None, total, 0)
    at, kind = points[best - 1]
    kept = text[:at].rstrip()
    return Cut(kept, kind, total, measure(kept))


def _counting(counter: TokenCounter | None) -> Callable[[str], int]:
    if counter is None:
        from tokenomy.tokens.counter import TokenCounter

        counter = TokenCounter()
    return counter.count


def check_complete(text: str) -> Completeness:
    """What ``text`` lacks to read as finished: an unclosed code fence, unbalanced
    JSON, or a last sentence cut off.

    Example:
        >>> check_complete('{"a": [1, 2').issues
        ('unbalanced JSON',)
        >>> check_complete("It is done.").complete
        True
    """
    issues: list[str] = []
    fences = sum(1 for line in text.splitlines() if _FENCE_LINE.match(line))
    if fences % 2:
        issues.append("unclosed code fence")
    body = text.strip()
    if body[:1] in ("{", "[") and json_value_end(body, 0) is None:
        issues.append("unbalanced JSON")
    elif not issues and body and not _ends_clean(body):
        issues.append("cut mid-sentence")
    return Completeness(tuple(issues))


def _ends_clean(body: str) -> bool:
    last = body.splitlines()[-1].strip()
    if re.search(r"[.!?…:;)\]}\"'`*_>|]$", last):
        return True
    # a list item, heading or table row line may end without punctuation
    return bool(re.match(r"([-*+•#|]|\d{1,3}[.)])\s*", last)) and len(last.split()) <= 12
