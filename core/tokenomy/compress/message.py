"""Compressing one chat message whose question comes last (a RAG prompt, a pasted file)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from tokenomy.compress.extractive import DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.compress.result import CompressionResult
from tokenomy.errors import ConfigError, MissingDependencyError, TokenomyError
from tokenomy.text.messages import trailing_question
from tokenomy.text.segment import split_sentences

__all__ = ["DEFAULT_MIN_TOKENS", "MessageCompression", "compress_message"]

log = logging.getLogger(__name__)

DEFAULT_MIN_TOKENS: Final = 800
"""Messages shorter than this many tokens are sent as they are: below it, compression
saves little and risks the message's point (``compression.min_tokens``)."""


def compress_message(
    compressor: ExtractiveCompressor,
    text: str,
    *,
    ratio: float = DEFAULT_RATIO,
    query: str | None = None,
    min_retention: float | None = None,
) -> CompressionResult | None:
    """``text`` compressed to ``ratio``, its trailing question kept and used as the query.

    Returns None (send the message as it is) when the question alone does not fit
    the ratio. ``query`` overrides the question found in the text (nothing is
    then protected). ``min_retention`` keeps more than ``ratio`` rather than let the
    retention estimate fall below it.
    """
    question = trailing_question(text) if query is None else None
    if question is not None and len(question) >= len(text.strip()):
        question = None  # the whole message is the question
    try:
        return compressor.compress(
            text,
            query=query or question,
            ratio=ratio,
            min_retention=min_retention,
            protected=split_sentences(question) if question else (),
        )
    except MissingDependencyError:
        raise  # not this message's fault: the caller says how to install it
    except TokenomyError as exc:
        log.warning("tokenomy: a message is sent uncompressed: %s", exc)
        return None


@dataclass(frozen=True, slots=True)
class MessageCompression:
    """Which chat messages are compressed, and how far: the options a context stage takes.

    :meth:`tokenomy.Settings.message_compression` builds one from ``compression.*``.

    Attributes:
        ratio: share of a long message's tokens kept, in (0, 1] (default
            :data:`~tokenomy.compress.DEFAULT_RATIO`, 0.4).
        min_tokens: messages shorter than this, in tokens, are sent as they are
            (default :data:`DEFAULT_MIN_TOKENS`, 800).
        min_retention: keep more than ``ratio`` rather than let the retention estimate
            fall below this, in [0, 1] (default None: no floor).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> options = MessageCompression(min_tokens=1_000)
        >>> options.compress(ExtractiveCompressor(embedder=HashingEmbedder()), "Hi!") is None
        True
    """

    ratio: float = DEFAULT_RATIO
    min_tokens: int = DEFAULT_MIN_TOKENS
    min_retention: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ratio, bool) or not 0.0 < self.ratio <= 1.0:
            raise ConfigError(f"ratio must be in (0, 1]; got {self.ratio!r}.")
        if isinstance(self.min_tokens, bool) or not isinstance(self.min_tokens, int):
            raise ConfigError(f"min_tokens must be an int >= 1; got {self.min_tokens!r}.")
        if self.min_tokens < 1:
            raise ConfigError(f"min_tokens must be an int >= 1; got {self.min_tokens!r}.")
        if self.min_retention is not None and not 0.0 <= self.min_retention <= 1.0:
            raise ConfigError(
                f"min_retention must be in [0, 1] or None; got {self.min_retention!r}."
            )

    def compress(
        self, compressor: ExtractiveCompressor, text: str, *, query: str | None = None
    ) -> CompressionResult | None:
        """:func:`compress_message` with these options; None when ``text`` is shorter
        than ``min_tokens`` or cannot be compressed (send it as it is)."""
        if compressor.counter.count(text) < self.min_tokens:
            return None
        return compress_message(
            compressor, text, ratio=self.ratio, query=query, min_retention=self.min_retention
        )
