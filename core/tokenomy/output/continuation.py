"""Continuing an answer the provider cut at its cap, and joining the parts cleanly.

An answer that ended with ``finish_reason == "length"`` is cut back to its last
clean boundary (a dangling half sentence is dropped, unless that would drop more
than a quarter of it), sent back as the assistant's turn with a request to go on,
and the continuation is joined after it; text the model repeats at the seam is
dropped once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from tokenomy.output.boundary import boundaries, check_complete

__all__ = [
    "CONTINUE_PROMPT",
    "continuation_messages",
    "join_parts",
    "resume_point",
    "starts_over",
]

CONTINUE_PROMPT: Final = (
    "Continue exactly where your previous message stopped. Do not repeat anything "
    "already written and do not add any preface."
)
_MAX_DROP: Final = 0.25
_MAX_DROP_CHARS: Final = 300
_MIN_OVERLAP: Final = 12
_MAX_OVERLAP: Final = 2000
_MIN_RESTATED: Final = 24
_MIN_RESTART: Final = 40


def resume_point(partial: str) -> str:
    """The prefix of a cut answer to continue from: all of it when it ends clean, else
    up to its last boundary, or its last whole word when that boundary is too far back
    (more than a quarter of the answer, or 300 characters).

    Example:
        >>> resume_point("The weather is sunny and warm in the region. Tomorrow, ra")
        'The weather is sunny and warm in the region.'
    """
    if check_complete(partial).complete:
        return partial
    last = 0
    for at, _ in boundaries(partial):
        last = at
    most = min(_MAX_DROP * len(partial), _MAX_DROP_CHARS)
    if last and len(partial) - last <= most:
        return partial[:last].rstrip()
    space = max(partial.rfind(" "), partial.rfind("\n"))
    if space > 0 and len(partial) - space <= most:
        return partial[:space].rstrip()
    return partial


def continuation_messages(
    messages: Sequence[Mapping[str, Any]], partial: str, *, prompt: str = CONTINUE_PROMPT
) -> tuple[dict[str, Any], ...]:
    """The chat to send for the next part: the conversation, the answer so far as
    the assistant's turn, then a user turn asking to go on."""
    return (
        *(dict(m) for m in messages),
        {"role": "assistant", "content": partial},
        {"role": "user", "content": prompt},
    )


def join_parts(first: str, more: str) -> str:
    """``first`` followed by its continuation ``more``, at a clean seam: text of
    ``first``'s end that ``more`` repeats is dropped once, and a space or newline is
    put between them when neither side has one.

    Example:
        >>> join_parts("The steps are:\\n1. Boil water.", "1. Boil water.\\n2. Add tea.")
        'The steps are:\\n1. Boil water.\\n2. Add tea.'
    """
    if not more:
        return first
    if not first:
        return more
    overlap = _overlap(first, more)
    if overlap:
        more = more[overlap:]
        if not more:
            return first
    if first[-1].isspace() or more[0].isspace():
        return first + more
    if re.match(r"[.,;:!?)\]}]", more):
        return first + more
    if re.match(r"(\d{1,3}[.)]|[-*+•#])\s", more) or more.startswith("```"):
        return first + "\n" + more  # a list item or block starts on its own line
    return first + " " + more  # first ends at a word (resume_point), so a new word


def _overlap(first: str, more: str) -> int:
    """How much of ``more``'s start restates ``first``: the longest start of ``more``
    (12 to 2,000 characters, ignoring the whitespace before it) that ``first`` ends
    with; else, when ``more`` restates ``first``'s last words (24+ characters from a
    word start) further in, as a model that goes back a sentence or starts over does,
    everything up to the end of that restatement."""
    stripped = more.lstrip()
    lead = len(more) - len(stripped)
    tail = first.rstrip()
    for n in range(min(len(stripped), len(tail), _MAX_OVERLAP), _MIN_OVERLAP - 1, -1):
        if tail.endswith(stripped[:n]):
            return lead + n
    return _restated(tail, more)


def _restated(tail: str, more: str) -> int:
    """The end of the longest restatement of ``tail``'s end (24+ characters, starting
    at a word) found in ``more`` no further in than a restart would put it, or 0."""
    for m in re.finditer(r"(?<!\S)\S", tail[-_MAX_OVERLAP:]):
        needle = tail[-_MAX_OVERLAP:][m.start() :]
        if len(needle) < _MIN_RESTATED:
            break
        at = more.find(needle, 0, len(tail) + len(needle))
        if at >= 0:
            return at + len(needle)  # the longest: starts are tried left to right
    return 0


def starts_over(first: str, more: str) -> bool:
    """Whether ``more`` begins the answer again instead of going on: it opens with the
    same 40+ characters as ``first`` and never reaches ``first``'s last words."""
    a, b = first.lstrip(), more.lstrip()
    same = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        same += 1
    return same >= _MIN_RESTART and _overlap(first, more) == 0
