"""L2: entries on local disk with diskcache, shared by processes, kept across restarts.

Layout, in one folder:

* ``entries/`` (a ``diskcache.Cache`` bounded in bytes, LRU): ``e:<id>`` -> entry.
* ``index/`` (an unbounded ``diskcache.Cache`` of small keys): per (partition,
  context) group, a counter ``n:<group>`` and an append-only list of members
  ``m:<group>:<seq>`` -> entry id.

Each process keeps an in-memory vector index per group and brings it up to date
by reading the members appended since its last look (usually none), so entries
written by other processes become searchable without rescanning. Evicted or
expired entries disappear from ``entries/``; a search result whose entry is gone
is dropped from the local index. diskcache writes are SQLite transactions, so a
crash mid-write loses at most that write and never corrupts the store.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenomy.cache.entry import CacheEntry
from tokenomy.cache.tiers.base import CacheTier
from tokenomy.embed.vectors import ANN_THRESHOLD, VectorGroup
from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DiskTier"]

DEFAULT_DISK_BYTES = 2**30


class _LocalGroup:
    def __init__(self) -> None:
        self.loaded = 0
        self.vectors: VectorGroup | None = None


class DiskTier(CacheTier):
    """Entries in a folder, via diskcache (SQLite), safe across processes.

    Args:
        directory: the folder (created if missing).
        max_bytes: size bound of the entries (default 1 GiB), least recently used first out.
        timeout_s: how long a write waits for another process's lock (default 10).
    """

    name = "disk"

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = DEFAULT_DISK_BYTES,
        timeout_s: float = 10.0,
        ann_threshold: int = ANN_THRESHOLD,
    ) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes must be > 0; got {max_bytes!r}.")
        from tokenomy._optional import require

        diskcache = require("diskcache", feature="the disk cache tier", extra="all")
        root = Path(directory)
        self.directory = root
        self._entries = diskcache.Cache(
            str(root / "entries"),
            size_limit=max_bytes,
            eviction_policy="least-recently-used",
            timeout=timeout_s,
        )
        self._index = diskcache.Cache(
            str(root / "index"), eviction_policy="none", timeout=timeout_s
        )
        self._ann_threshold = ann_threshold
        self._groups: dict[str, _LocalGroup] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _group(partition: str, context: str) -> str:
        return hashlib.blake2b(f"{partition}:{context}".encode(), digest_size=12).hexdigest()

    def get(self, entry_id: str, now: float) -> CacheEntry | None:
        raw = self._entries.get(f"e:{entry_id}")
        if raw is None:
            return None
        entry = CacheEntry.from_dict(raw)
        if entry.expired(now):
            self._entries.delete(f"e:{entry_id}")
            return None
        return entry

    def _sync(self, group_key: str) -> _LocalGroup:
        """Bring this process's index of ``group_key`` up to date with the disk."""
        local = self._groups.setdefault(group_key, _LocalGroup())
        current = int(self._index.get(f"n:{group_key}", 0))
        if current < local.loaded:  # the store was cleared by someone: start over
            local.loaded, local.vectors = 0, None
        for seq in range(local.loaded + 1, current + 1):
            entry_id = self._index.get(f"m:{group_key}:{seq}")
            raw = None if entry_id is None else self._entries.get(f"e:{entry_id}")
            if raw is not None and raw.get("vector") is not None:
                entry = CacheEntry.from_dict(raw)
                if local.vectors is None:
                    local.vectors = VectorGroup(
                        int(entry.vector.shape[0]),  # type: ignore[union-attr]
                        ann_threshold=self._ann_threshold,
                    )
                local.vectors.add(entry.id, entry.vector)  # type: ignore[arg-type]
            local.loaded = seq
        return local

    def search(
        self, partition: str, context: str, vector: np.ndarray, k: int, now: float
    ) -> list[tuple[CacheEntry, float]]:
        with self._lock:
            local = self._sync(self._group(partition, context))
            if local.vectors is None:
                return []
            out = []
            for entry_id, sim in local.vectors.search(vector, k):
                entry = self.get(entry_id, now)
                if entry is None:  # evicted, expired or deleted since it was indexed
                    local.vectors.remove(entry_id)
                    continue
                out.append((entry, sim))
            return out

    def put(self, entry: CacheEntry) -> None:
        expire = None
        if entry.expires_at is not None:
            expire = max(1.0, entry.expires_at - entry.created_at)
        self._entries.set(f"e:{entry.id}", entry.to_dict(), expire=expire)
        if entry.vector is not None:
            group_key = self._group(entry.partition, entry.context)
            seq = self._index.incr(f"n:{group_key}", default=0)
            self._index.set(f"m:{group_key}:{seq}", entry.id, expire=expire)

    def delete(self, entry_id: str) -> None:
        self._entries.delete(f"e:{entry_id}")

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._index.clear()
            self._groups.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def check(self) -> None:
        """Every stored entry reads back whole and matches its key."""
        for key in list(self._entries.iterkeys()):
            raw: Any = self._entries.get(key)
            if raw is None:  # evicted meanwhile
                continue
            entry = CacheEntry.from_dict(raw)
            if key != f"e:{entry.id}":
                raise AssertionError(f"entry under {key} has id {entry.id}")
        status = self._entries.check()
        if status:
            raise AssertionError(f"diskcache check found problems: {status}")

    def close(self) -> None:
        self._entries.close()
        self._index.close()
