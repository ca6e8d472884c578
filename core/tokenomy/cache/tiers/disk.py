"""L2: entries on local disk with diskcache, shared by processes, kept across restarts.

Layout, in one folder:

* ``entries/`` (a ``diskcache.Cache`` bounded in bytes): ``e:<id>`` -> the entry as
  versioned JSON bytes (:mod:`tokenomy.cache.codec`), signed when a key is set.
* ``index/`` (an unbounded ``diskcache.Cache`` of small keys): per (partition,
  context) group, a counter ``n:<group>`` and an append-only list of members
  ``m:<group>:<seq>`` -> entry id.

Each process keeps an in-memory vector index per group and brings it up to date
by reading the members appended since its last look (usually none), so entries
written by other processes become searchable without rescanning. Evicted or
expired entries disappear from ``entries/``; a search result whose entry is gone
is dropped from the local index. diskcache writes are SQLite transactions, so a
crash mid-write loses at most that write and never corrupts the store.

**Data, never code.** diskcache pickles any value that is not bytes, str or a
number, and unpickles any row whose ``mode`` column says "pickle", so a folder
anyone else can write to would run their code. The tier stores only JSON bytes,
keeps every value inside SQLite (no value files), and opens both caches with a
``Disk`` that refuses to pickle or unpickle anything: a tampered row is refused,
deleted and counted like any entry that fails to decode.

**Reads never write.** Eviction is "least recently stored": diskcache's LRU policy
turns each read into an UPDATE, which fails (and used to take every read with it)
on a full disk or under a writer's lock. On a full disk, stores fail and are counted
while every stored answer is still served; deleting an expired or refused entry on
the read path is best effort.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenomy.cache.codec import decode_entry, encode_entry
from tokenomy.cache.codec import signing_key as _signing_key
from tokenomy.cache.tiers.base import CacheTier
from tokenomy.embed.vectors import ANN_THRESHOLD, VectorGroup
from tokenomy.errors import CacheEntryError, CacheStorageError, ConfigError

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.entry import CacheEntry

__all__ = ["DiskTier"]

logger = logging.getLogger(__name__)

DEFAULT_DISK_BYTES = 2**30
_SETTING = "cache.disk_path (env TOKENOMY_CACHE__DISK_PATH)"
_ENTRY_ID = re.compile(r"[0-9a-f]{1,64}")
_NO_FILES = 2**62  # diskcache's min_file_size: every value stays inside SQLite
# failures that leave the tier usable: a full disk, a busy lock, a read-only write
_NOT_OUTAGE = ("full", "locked", "busy", "readonly", "read-only")


@functools.cache
def _data_disk() -> type:
    """A diskcache ``Disk`` that stores and reads plain data only (never pickle)."""
    from diskcache import Disk
    from diskcache.core import MODE_RAW

    class DataDisk(Disk):  # type: ignore[misc]
        def put(self, key: Any) -> tuple[Any, bool]:
            if type(key) not in (str, bytes, int):
                raise TypeError(f"cache keys are str, bytes or int; got {type(key).__name__}")
            return super().put(key)  # type: ignore[no-any-return]

        def get(self, key: Any, raw: bool) -> Any:
            if not raw:
                raise CacheEntryError("invalid", "a pickled key (refused unread)")
            return super().get(key, raw)

        def store(self, value: Any, read: bool, key: Any = None) -> Any:
            if read or type(value) not in (bytes, str, int):
                raise TypeError(f"cache values are bytes, str or int; got {type(value).__name__}")
            return super().store(value, read, key)

        def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
            if mode != MODE_RAW or filename is not None or read:
                raise CacheEntryError("invalid", f"a stored value in mode {mode!r} (not data)")
            return super().fetch(mode, filename, value, read)

    return DataDisk


class _LocalGroup:
    def __init__(self) -> None:
        self.loaded = 0
        self.vectors: VectorGroup | None = None


class DiskTier(CacheTier):
    """Entries in a folder, via diskcache (SQLite), safe across processes.

    Args:
        directory: the folder (created if missing).
        max_bytes: size bound of the entries (default 1 GiB); past it, the entries
            stored longest ago go first.
        timeout_s: how long a write waits for another process's lock (default 10).
        signing_key: sign every entry with HMAC-SHA256 and refuse entries whose
            signature fails (default None: entries are validated but not signed).
            At least 16 bytes; every process sharing the folder needs the same key.

    Raises:
        CacheStorageError: the folder cannot be created, opened or written
            (read-only, missing parent, not a folder); the message names the path
            and the setting. :meth:`open` can fall back to memory instead.
    """

    name = "disk"

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = DEFAULT_DISK_BYTES,
        timeout_s: float = 10.0,
        ann_threshold: int = ANN_THRESHOLD,
        signing_key: str | bytes | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes must be > 0; got {max_bytes!r}.")
        from tokenomy._optional import require

        diskcache = require("diskcache", feature="the disk cache tier", extra="all")
        self._key = _signing_key(signing_key)
        root = Path(directory)
        self.directory = root
        self._entries = _open(
            diskcache,
            root / "entries",
            size_limit=max_bytes,
            eviction_policy="least-recently-stored",
            timeout=timeout_s,
        )
        try:
            self._index = _open(
                diskcache, root / "index", eviction_policy="none", timeout=timeout_s
            )
        except CacheStorageError:
            self._entries.close()
            raise
        self._ann_threshold = ann_threshold
        self._groups: dict[str, _LocalGroup] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        directory: str | Path,
        *,
        fail_soft: bool = False,
        max_bytes: int = DEFAULT_DISK_BYTES,
        timeout_s: float = 10.0,
        signing_key: str | bytes | None = None,
    ) -> CacheTier:
        """A disk tier, or with ``fail_soft`` a memory tier when the folder is unusable.

        Args:
            directory / max_bytes / timeout_s / signing_key: as for the constructor.
            fail_soft: on :class:`~tokenomy.errors.CacheStorageError`, log one warning
                and return a :class:`~tokenomy.cache.MemoryTier` of ``max_bytes``
                (capped at the memory tier's default) instead of raising.
        """
        try:
            return cls(directory, max_bytes=max_bytes, timeout_s=timeout_s, signing_key=signing_key)
        except CacheStorageError as exc:
            if not fail_soft:
                raise
            from tokenomy.cache.tiers.memory import DEFAULT_MEMORY_BYTES, MemoryTier

            logger.warning("tokenomy cache: %s Using a memory tier instead (fail-soft).", exc)
            return MemoryTier(max_bytes=min(max_bytes, DEFAULT_MEMORY_BYTES))

    @staticmethod
    def _group(partition: str, context: str) -> str:
        return hashlib.blake2b(f"{partition}:{context}".encode(), digest_size=12).hexdigest()

    def is_outage(self, exc: BaseException) -> bool:
        """A full disk, a busy lock or a refused write is not an outage: reads go on."""
        from diskcache import Timeout

        if isinstance(exc, Timeout | TypeError | CacheEntryError):
            return False
        text = str(exc).lower()
        return not (isinstance(exc, sqlite3.Error) and any(w in text for w in _NOT_OUTAGE))

    def get(self, entry_id: str, now: float) -> CacheEntry | None:
        key = f"e:{entry_id}"
        try:
            raw = self._entries.get(key)
            if raw is None:
                return None
            entry = decode_entry(raw, entry_id=entry_id, key=self._key)
        except CacheEntryError as exc:
            self._forget(key)
            self.report_bad_entry(entry_id, exc.reason, str(exc))
            return None
        if entry.expired(now):
            self._forget(key)
            return None
        return entry

    def _forget(self, key: str) -> None:
        """Delete on the read path, best effort: a read must not depend on a write."""
        try:
            self._entries.delete(key)
        except Exception as exc:  # a full disk, a lock held too long, a read-only file
            logger.debug("tokenomy cache: disk tier could not delete %s (%s)", key, exc)

    def _sync(self, group_key: str) -> _LocalGroup:
        """Bring this process's index of ``group_key`` up to date with the disk."""
        local = self._groups.setdefault(group_key, _LocalGroup())
        current = self._index_value(f"n:{group_key}")
        current = current if isinstance(current, int) and current >= 0 else 0
        if current < local.loaded:  # the store was cleared by someone: start over
            local.loaded, local.vectors = 0, None
        for seq in range(local.loaded + 1, current + 1):
            entry_id = self._index_value(f"m:{group_key}:{seq}")
            if isinstance(entry_id, str) and _ENTRY_ID.fullmatch(entry_id):
                entry = self.get(entry_id, float("-inf"))
                if entry is not None and entry.vector is not None:
                    self._index_vector(local, entry)
            local.loaded = seq
        return local

    def _index_value(self, key: str) -> Any:
        """A value of the index cache; a tampered row reads as missing."""
        try:
            return self._index.get(key)
        except CacheEntryError as exc:
            try:
                self._index.delete(key)
            except Exception as exc2:  # best effort, as on every read path
                logger.debug("tokenomy cache: disk tier could not delete %s (%s)", key, exc2)
            self.report_bad_entry(key, "invalid index", str(exc))
            return None

    def _index_vector(self, local: _LocalGroup, entry: CacheEntry) -> None:
        vector = entry.vector
        assert vector is not None  # checked by the caller
        if local.vectors is None:
            local.vectors = VectorGroup(int(vector.shape[0]), ann_threshold=self._ann_threshold)
        if int(vector.shape[0]) != local.vectors.dim:
            self._forget(f"e:{entry.id}")
            self.report_bad_entry(
                entry.id, "invalid", f"{vector.shape[0]} dims in a group of {local.vectors.dim}"
            )
            return
        local.vectors.add(entry.id, vector)

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
        self._entries.set(f"e:{entry.id}", encode_entry(entry, key=self._key), expire=expire)
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
        """Every stored entry reads back whole, verifies and matches its key."""
        try:
            keys = list(self._entries.iterkeys())
        except CacheEntryError as exc:
            raise AssertionError(f"a stored key does not read back: {exc}") from exc
        for key in keys:
            raw: Any = self._entries.get(key)
            if raw is None:  # evicted meanwhile
                continue
            try:
                decode_entry(raw, entry_id=str(key)[2:], key=self._key)
            except CacheEntryError as exc:
                raise AssertionError(f"entry under {key} does not read back: {exc}") from exc
        status = self._entries.check()
        if status:
            raise AssertionError(f"diskcache check found problems: {status}")

    def close(self) -> None:
        self._entries.close()
        self._index.close()


def _open(diskcache: Any, path: Path, **settings: Any) -> Any:
    """A data-only ``diskcache.Cache`` at ``path``, or a CacheStorageError saying what to do."""
    try:
        return diskcache.Cache(
            str(path), disk=_data_disk(), disk_min_file_size=_NO_FILES, **settings
        )
    except (OSError, sqlite3.Error) as exc:
        raise CacheStorageError(
            f"The disk cache folder {str(path.parent)!r} cannot be used ({type(exc).__name__}: "
            f"{exc}). Make it a writable folder, point the setting {_SETTING} (DiskTier's "
            "directory) elsewhere, or unset it to cache in memory only."
        ) from exc
