"""What a compression returns: frozen, with raw numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KEPT_RATIO_KEY", "CompressionResult", "DroppedSegment"]

KEPT_RATIO_KEY = "tokenomy_kept_ratio"
"""Metadata key adapters add to a compressed document: its kept / original tokens."""

DropReason = Literal["low importance", "redundant", "over budget", "duplicate"]


@dataclass(frozen=True, slots=True)
class DroppedSegment:
    """A segment that was left out, and why."""

    document: int
    text: str
    reason: DropReason
    score: float


@dataclass(frozen=True)
class CompressionResult:
    """A compressed context.

    Attributes:
        text: the kept content of all documents, in their original order.
        documents: the kept content per input document ("" when nothing was kept).
        original_tokens / compressed_tokens: counted with the target model's tokenizer.
        budget_tokens: the budget the compressor worked to (after any ``min_retention``
            raise); ``compressed_tokens <= budget_tokens`` always.
        retention: estimated share of the query-relevant content and key concepts
            that survived, in [0, 1].
        retention_floor_applied: the budget was raised to reach ``min_retention``.
        truncated: a single segment larger than the budget was cut at a word boundary.
        dropped: the segments left out, with the reason and their importance score.
    """

    text: str
    documents: tuple[str, ...]
    original_tokens: int
    compressed_tokens: int
    budget_tokens: int
    retention: float
    retention_floor_applied: bool = False
    truncated: bool = False
    dropped: tuple[DroppedSegment, ...] = ()

    @property
    def ratio(self) -> float:
        """compressed_tokens / original_tokens (1.0 for an empty context)."""
        return self.compressed_tokens / self.original_tokens if self.original_tokens else 1.0

    @property
    def saved_tokens(self) -> int:
        return self.original_tokens - self.compressed_tokens

    def __str__(self) -> str:
        return (
            f"{self.original_tokens} -> {self.compressed_tokens} tokens "
            f"({self.ratio:.0%}), retention ~{self.retention:.0%}"
        )
