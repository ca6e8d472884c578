"""Prompt and context compression: extractive, query-aware, to a ratio or a token budget."""

from tokenomy.compress.extractive import ExtractiveCompressor
from tokenomy.compress.result import CompressionResult, DroppedSegment
from tokenomy.compress.scoring import Weights

__all__ = ["CompressionResult", "DroppedSegment", "ExtractiveCompressor", "Weights"]
