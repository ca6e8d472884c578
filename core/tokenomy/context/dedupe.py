"""Conversation-scope de-duplication: a passage sent twice is sent once.

RAG chats retrieve the same document on several turns, and users paste the same
text again. A paragraph that already appeared earlier in what is sent is replaced
in later messages by a one-line pointer; the first occurrence stays, so the
conversation's prefix (and a provider's prompt cache) is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

__all__ = ["REPEATED_MARKER", "drop_repeated_passages"]

REPEATED_MARKER = "[passage repeated from earlier in this conversation]"
_PARAGRAPHS = re.compile(r"\n\s*\n")


def _key(paragraph: str) -> str:
    return " ".join(paragraph.lower().split())


def drop_repeated_passages(
    texts: Sequence[str | None], *, min_tokens: int = 40, model: str = DEFAULT_MODEL
) -> list[str | None]:
    """For each message text, oldest first: the text with repeated passages replaced.

    Args:
        texts: the messages' texts (None for a message to leave alone, e.g. images).
        min_tokens: paragraphs shorter than this are never replaced (greetings,
            "yes", a repeated question).
        model: counts tokens with this model's tokenizer.

    Returns:
        One entry per input: the new text, or None where nothing changed.

    Example:
        >>> doc = "The Eiffel Tower was finished in 1889 for the World's Fair in Paris. " * 4
        >>> drop_repeated_passages([f"{doc}\\n\\nWhen?", f"{doc}\\n\\nHow tall?"], min_tokens=20)
        [None, '[passage repeated from earlier in this conversation]\\n\\nHow tall?']
    """
    counter = TokenCounter(model)
    seen: set[str] = set()
    out: list[str | None] = []
    for text in texts:
        if not text:
            out.append(None)
            continue
        paragraphs = _PARAGRAPHS.split(text)
        changed = False
        kept = []
        for p in paragraphs:
            key = _key(p)
            if key in seen:  # only long paragraphs are ever seen
                kept.append(REPEATED_MARKER)
                changed = True
                continue
            if counter.count(p) >= min_tokens:
                seen.add(key)
            kept.append(p)
        out.append("\n\n".join(kept) if changed else None)
    return out
