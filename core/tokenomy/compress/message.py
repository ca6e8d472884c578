"""Compressing one chat message whose question comes last (a RAG prompt, a pasted file)."""

from __future__ import annotations

import logging

from tokenomy.compress.extractive import ExtractiveCompressor
from tokenomy.compress.result import CompressionResult
from tokenomy.errors import TokenomyError
from tokenomy.text.messages import trailing_question
from tokenomy.text.segment import split_sentences

__all__ = ["compress_message"]

log = logging.getLogger(__name__)


def compress_message(
    compressor: ExtractiveCompressor, text: str, *, ratio: float, query: str | None = None
) -> CompressionResult | None:
    """``text`` compressed to ``ratio``, its trailing question kept and used as the query.

    Returns None (send the message as it is) when the question alone does not fit
    the ratio. ``query`` overrides the question found in the text (nothing is
    then protected).
    """
    question = trailing_question(text) if query is None else None
    if question is not None and len(question) >= len(text.strip()):
        question = None  # the whole message is the question
    try:
        return compressor.compress(
            text,
            query=query or question,
            ratio=ratio,
            protected=split_sentences(question) if question else (),
        )
    except TokenomyError as exc:
        log.warning("tokenomy: a message is sent uncompressed: %s", exc)
        return None
