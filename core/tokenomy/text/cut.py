"""Cutting text to a token budget at a word boundary."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenomy.tokens.counter import TokenCounter

__all__ = ["cut_to_tokens", "longest_prefix"]


def longest_prefix(limit: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``[0, limit]`` with ``fits(n)``, by binary search.

    ``fits`` must hold up to some ``n`` and fail beyond it (a prefix of ``n`` words that
    fits a budget); ``fits(0)`` is taken for granted.
    """
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def cut_to_tokens(text: str, max_tokens: int, counter: TokenCounter) -> str:
    """The longest prefix of ``text`` that ends at a word and fits in ``max_tokens``."""
    if counter.count(text) <= max_tokens:
        return text
    words = text.split(" ")
    n = longest_prefix(len(words), lambda n: counter.count(" ".join(words[:n])) <= max_tokens)
    return " ".join(words[:n])
