"""The interface every cache tier implements."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.entry import CacheEntry

__all__ = ["CacheTier"]

logger = logging.getLogger(__name__)
_REPORT_LOCK = threading.Lock()


class CacheTier(ABC):
    """A place answers are kept: memory, disk, Redis, ….

    ``search`` filters by partition and context *before* comparing vectors, so a
    result can never come from another model, scope or conversation. Tiers may
    raise on I/O failure; :class:`~tokenomy.cache.SemanticCache` catches that, skips
    the tier for a while and counts the failure.

    Entries are data, never code. A tier that reads entries other processes wrote
    decodes them with :mod:`tokenomy.cache.codec`; an entry that fails to decode,
    validate or verify is reported with :meth:`report_bad_entry` (it is deleted and
    counted, and the lookup goes on as a miss) instead of raising. Only failures
    :meth:`is_outage` accepts mark the whole tier down.
    """

    name: str = "tier"
    blocking: bool = True
    """Whether a call may wait on I/O (a disk, a server): the request pipeline then
    runs the cache's stages in a worker thread instead of on the event loop."""

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

    def is_outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the tier is unreachable (skip it for a while).

        The default treats every failure as an outage; tiers that can tell a lost
        connection from a refused write (a full disk) or one bad entry override it.
        """
        return True

    def report_bad_entry(self, entry_id: str, reason: str, detail: str = "") -> None:
        """Count an entry that failed to decode or verify, and log the first of each reason.

        ``reason`` is the short label counted; ``detail`` (logged in its place when
        given) should start with it.

        Call it after deleting the entry; the cache collects the counts with
        :meth:`take_bad_entries` and adds them to ``tier_errors``.
        """
        with _REPORT_LOCK:
            counts: Counter[str] = self.__dict__.setdefault("_bad_entries", Counter())
            logged: set[str] = self.__dict__.setdefault("_bad_logged", set())
            counts[reason] += 1
            first = reason not in logged
            logged.add(reason)
        log = logger.warning if first else logger.debug
        log(
            "tokenomy cache: %s tier: entry %s refused and deleted (%s)%s",
            self.name,
            entry_id[:40],
            detail or reason,
            "; further ones are logged at debug level" if first else "",
        )

    def take_bad_entries(self) -> dict[str, int]:
        """The bad-entry counts since the last call, by reason (then reset)."""
        with _REPORT_LOCK:
            counts: Counter[str] | None = self.__dict__.get("_bad_entries")
            if not counts:
                return {}
            out = dict(counts)
            counts.clear()
            return out

    def check(self) -> None:  # noqa: B027 - optional hook
        """Verify invariants; raise AssertionError if broken."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or files."""
