"""L1: entries in process memory, bounded in bytes with LRU eviction."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from tokenomy.cache.tiers.base import CacheTier
from tokenomy.embed.vectors import ANN_THRESHOLD, VectorGroup
from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.entry import CacheEntry

__all__ = ["MemoryTier"]

DEFAULT_MEMORY_BYTES = 256 * 2**20


class MemoryTier(CacheTier):
    """Exact dict plus one vector index per (partition, context) group.

    Args:
        max_bytes: bound on the entries' approximate size (default 256 MiB); the least
            recently used entries are evicted past it.
        ann_threshold: group size above which an HNSW index replaces the numpy scan.
    """

    name = "memory"
    blocking = False

    def __init__(
        self, *, max_bytes: int = DEFAULT_MEMORY_BYTES, ann_threshold: int = ANN_THRESHOLD
    ) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes must be > 0; got {max_bytes!r}.")
        self.max_bytes = max_bytes
        self.ann_threshold = ann_threshold
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._groups: dict[tuple[str, str], VectorGroup] = {}
        self._bytes = 0
        self._lock = threading.RLock()
        self.evictions = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, entry_id: str, now: float) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(entry_id)
            if entry is None:
                return None
            if entry.expired(now):
                self._remove(entry_id)
                return None
            self._entries.move_to_end(entry_id)
            return entry

    def search(
        self, partition: str, context: str, vector: np.ndarray, k: int, now: float
    ) -> list[tuple[CacheEntry, float]]:
        with self._lock:
            group = self._groups.get((partition, context))
            if group is None:
                return []
            out = []
            for entry_id, sim in group.search(vector, k):
                entry = self.get(entry_id, now)
                if entry is not None:
                    out.append((entry, sim))
            return out

    def put(self, entry: CacheEntry) -> None:
        self.put_many([entry])

    def put_many(self, entries: list[CacheEntry]) -> None:
        """Store several entries with one index update per group (bulk loads)."""
        import numpy as np

        latest = {e.id: e for e in entries}  # the last of duplicate ids wins
        with self._lock:
            batches: dict[tuple[str, str], list[CacheEntry]] = {}
            for entry in latest.values():
                if entry.id in self._entries:
                    self._remove(entry.id)
                self._entries[entry.id] = entry
                self._bytes += entry.nbytes
                if entry.vector is not None:
                    batches.setdefault((entry.partition, entry.context), []).append(entry)
            for key, batch in batches.items():
                group = self._groups.get(key)
                if group is None:
                    group = self._groups[key] = VectorGroup(
                        int(batch[0].vector.shape[0]),  # type: ignore[union-attr]
                        ann_threshold=self.ann_threshold,
                    )
                vectors = np.stack([e.vector for e in batch])  # type: ignore[misc]
                group.add_many([e.id for e in batch], vectors)
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evictions += 1

    def _remove(self, entry_id: str) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return
        self._bytes -= entry.nbytes
        key = (entry.partition, entry.context)
        group = self._groups.get(key)
        if group is not None:
            group.remove(entry_id)
            if not len(group):
                del self._groups[key]

    def delete(self, entry_id: str) -> None:
        with self._lock:
            self._remove(entry_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._groups.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def check(self) -> None:
        with self._lock:
            total = sum(e.nbytes for e in self._entries.values())
            if total != self._bytes:
                raise AssertionError(f"byte count {self._bytes} != {total}")
            indexed = sum(len(g) for g in self._groups.values())
            with_vectors = sum(1 for e in self._entries.values() if e.vector is not None)
            if indexed != with_vectors:
                raise AssertionError(f"{indexed} vectors indexed for {with_vectors} entries")
            for (partition, context), group in self._groups.items():
                for entry_id in group._ids:
                    entry = self._entries.get(entry_id)
                    if entry is None or (entry.partition, entry.context) != (partition, context):
                        raise AssertionError(f"index entry {entry_id} is in the wrong group")
