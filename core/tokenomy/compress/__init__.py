"""Prompt and context compression: extractive, query-aware, to a ratio or a token budget."""

from tokenomy.compress.extractive import (
    DEFAULT_GRANULARITY,
    DEFAULT_RATIO,
    DEFAULT_REDUNDANCY,
    ExtractiveCompressor,
    check_target,
)
from tokenomy.compress.message import DEFAULT_MIN_TOKENS, MessageCompression, compress_message
from tokenomy.compress.result import CompressionResult, DroppedSegment
from tokenomy.compress.scoring import Weights

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_RATIO",
    "DEFAULT_REDUNDANCY",
    "CompressionResult",
    "DroppedSegment",
    "ExtractiveCompressor",
    "MessageCompression",
    "Weights",
    "check_target",
    "compress_message",
]
