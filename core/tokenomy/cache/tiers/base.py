"""The interface every cache tier implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.entry import CacheEntry

__all__ = ["CacheTier"]


class CacheTier(ABC):
    """A place answers are kept: memory, disk, Redis, ….

    ``search`` filters by partition and context *before* comparing vectors, so a
    result can never come from another model, scope or conversation. Tiers may
    raise on I/O failure; :class:`~tokenomy.cache.SemanticCache` catches that, skips
    the tier for a while and counts the failure.
    """

    name: str = "tier"

    @abstractmethod
    def get(self, entry_id: str, now: float) -> CacheEntry | None:
        """The live entry ``entry_id``, or None."""

    @abstractmethod
    def search(
        self, partition: str, context: str, vector: np.ndarray, k: int, now: float
    ) -> list[tuple[CacheEntry, float]]:
        """Up to ``k`` live (entry, cosine similarity) pairs of one partition and context."""

    @abstractmethod
    def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` (replacing one with the same id)."""

    @abstractmethod
    def delete(self, entry_id: str) -> None:
        """Remove ``entry_id`` if present."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every entry."""

    @abstractmethod
    def __len__(self) -> int: ...

    def check(self) -> None:  # noqa: B027 - optional hook
        """Verify invariants; raise AssertionError if broken."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or files."""
