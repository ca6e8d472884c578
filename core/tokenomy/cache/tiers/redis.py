"""L3: entries in Redis with vector search (Redis Stack / RediSearch), shared by hosts.

Each entry is a HASH ``<prefix>e:<id>`` with TAG fields ``partition`` and
``context``, a FLOAT32 ``vec`` in an HNSW index (cosine), the payload, and an
EXPIRE for its TTL. A search is one ``FT.SEARCH`` whose TAG filter on partition
and context runs *before* the KNN, so an entry of another model, scope or
conversation is never a candidate. Both tags are hex hashes, so no escaping is
needed. The entry itself is one field, ``entry``: versioned JSON
(:mod:`tokenomy.cache.codec`), signed when a key is set; the ``partition``,
``context`` and ``vec`` fields only feed the index. A hit's similarity is computed
again from the entry's own (signed) vector, and its tags must match the entry's
partition and context, so rewriting an index field cannot steer an entry to other
questions. An entry that fails to decode or verify is deleted and counted, and the
other candidates are still served. Sockets time out quickly (``timeout_s``) so a
dead server costs a caller milliseconds; the cache then skips this tier until it
answers again.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from tokenomy.cache.codec import decode_entry, encode_entry
from tokenomy.cache.codec import signing_key as _signing_key
from tokenomy.cache.tiers.base import CacheTier
from tokenomy.errors import CacheEntryError, ConfigError

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.entry import CacheEntry

__all__ = ["RedisTier"]

logger = logging.getLogger(__name__)

_FIELDS = ("partition", "context", "entry")


class RedisTier(CacheTier):
    """A Redis Stack tier.

    Args:
        url: e.g. ``"redis://127.0.0.1:6379/0"`` (or pass ``client``).
        client: a ready ``redis.Redis`` (``decode_responses=False``).
        prefix: key prefix and index name stem (default ``"tokenomy:cache:"``).
        timeout_s: socket connect/read timeout in seconds (default 0.5).
        ef_runtime: HNSW search breadth (default 64; higher is more exact and slower).
        signing_key: sign every entry with HMAC-SHA256 and refuse entries whose
            signature fails (default None). At least 16 bytes; every host sharing the
            prefix needs the same key.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "tokenomy:cache:",
        timeout_s: float = 0.5,
        ef_runtime: int = 64,
        signing_key: str | bytes | None = None,
    ) -> None:
        if client is None and not url:
            raise ConfigError("RedisTier needs url='redis://host:port' or client=redis.Redis(...).")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0; got {timeout_s!r}.")
        from tokenomy._optional import require

        redis = require("redis", feature="the Redis cache tier", extra="redis")
        self._signing_key = _signing_key(signing_key)
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )
        self.prefix = prefix
        self.index_name = f"{prefix}idx"
        self.ef_runtime = ef_runtime
        self._dim: int | None = None
        self._lock = threading.Lock()

    # -- index ---------------------------------------------------------------------

    def _ensure_index(self, dim: int) -> None:
        if self._dim == dim:
            return
        with self._lock:
            if self._dim == dim:
                return
            from redis.exceptions import ResponseError

            try:
                self._client.execute_command("FT.INFO", self.index_name)
            except ResponseError:
                self._client.execute_command(
                    "FT.CREATE",
                    self.index_name,
                    "ON",
                    "HASH",
                    "PREFIX",
                    "1",
                    f"{self.prefix}e:",
                    "SCHEMA",
                    "partition",
                    "TAG",
                    "context",
                    "TAG",
                    "vec",
                    "VECTOR",
                    "HNSW",
                    "6",
                    "TYPE",
                    "FLOAT32",
                    "DIM",
                    str(dim),
                    "DISTANCE_METRIC",
                    "COSINE",
                )
            self._dim = dim

    def _index_lost(self, exc: Exception) -> bool:
        """After a server restart without persistence the index is gone: rebuild it."""
        if "no such index" in str(exc).lower() or "unknown index" in str(exc).lower():
            self._dim = None
            return True
        return False

    # -- entries ---------------------------------------------------------------------

    def _key(self, entry_id: str) -> str:
        return f"{self.prefix}e:{entry_id}"

    def _decode(self, entry_id: str, fields: Any) -> CacheEntry | None:
        """The entry of a HASH's fields, or None after deleting and counting a bad one."""
        try:
            if not isinstance(fields, dict):
                raise CacheEntryError("undecodable", f"a {type(fields).__name__}, not a hash")
            if b"entry" not in fields:
                raise CacheEntryError("unsupported schema", "no 'entry' field (older layout)")
            entry = decode_entry(fields[b"entry"], entry_id=entry_id, key=self._signing_key)
            tags = (fields.get(b"partition"), fields.get(b"context"))
            if tags != (entry.partition.encode(), entry.context.encode()):
                raise CacheEntryError("invalid", "index tags differ from the entry's")
        except CacheEntryError as exc:
            self._forget(entry_id)
            self.report_bad_entry(entry_id, exc.reason, str(exc))
            return None
        return entry

    def _forget(self, entry_id: str) -> None:
        try:
            self._client.delete(self._key(entry_id))
        except Exception as exc:  # best effort: the read already succeeded
            logger.debug("tokenomy cache: redis tier could not delete %s (%s)", entry_id, exc)

    def is_outage(self, exc: BaseException) -> bool:
        """Lost connections and timeouts are; an error reply to one command is not."""
        from redis.exceptions import ConnectionError, TimeoutError

        return isinstance(exc, ConnectionError | TimeoutError | OSError)

    def get(self, entry_id: str, now: float) -> CacheEntry | None:
        from redis.exceptions import ResponseError

        try:
            fields = self._client.hgetall(self._key(entry_id))
        except ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            self._forget(entry_id)  # someone wrote another Redis type under our key
            self.report_bad_entry(entry_id, "undecodable", "not a hash")
            return None
        if not fields:
            return None
        entry = self._decode(entry_id, fields)
        return None if entry is None or entry.expired(now) else entry

    def search(
        self, partition: str, context: str, vector: np.ndarray, k: int, now: float
    ) -> list[tuple[CacheEntry, float]]:
        import numpy as np
        from redis.exceptions import ResponseError

        vec = np.asarray(vector, dtype=np.float32)
        self._ensure_index(int(vec.shape[0]))
        query = (
            f"(@partition:{{{partition}}} @context:{{{context}}})"
            f"=>[KNN {int(k)} @vec $v EF_RUNTIME {self.ef_runtime} AS dist]"
        )
        args = [
            "FT.SEARCH",
            self.index_name,
            query,
            "PARAMS",
            "2",
            "v",
            vec.tobytes(),
            "SORTBY",
            "dist",
            "RETURN",
            str(len(_FIELDS) + 1),
            *_FIELDS,
            "dist",
            "LIMIT",
            "0",
            str(int(k)),
            "DIALECT",
            "2",
        ]
        try:
            raw = self._client.execute_command(*args)
        except ResponseError as exc:
            if self._index_lost(exc):
                return []
            raise
        out = []
        for key, fields in _documents(raw):
            entry = self._decode(key[len(self._key("")) :], fields)
            if entry is None or entry.expired(now):
                continue
            if entry.vector is None or entry.vector.shape != vec.shape:
                self._forget(entry.id)
                self.report_bad_entry(entry.id, "invalid", "no vector of the query's dimension")
                continue
            # the entry's own (signed) vector, not the index field anyone could rewrite
            norm = float(np.linalg.norm(entry.vector) * np.linalg.norm(vec)) or 1.0
            out.append((entry, float(np.dot(entry.vector, vec)) / norm))
        return out

    def put(self, entry: CacheEntry) -> None:
        import numpy as np

        mapping: dict[str, Any] = {
            "partition": entry.partition,
            "context": entry.context,
            "entry": encode_entry(entry, key=self._signing_key),
        }
        if entry.vector is not None:
            vec = np.asarray(entry.vector, dtype=np.float32)
            self._ensure_index(int(vec.shape[0]))
            mapping["vec"] = vec.tobytes()
        key = self._key(entry.id)
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=mapping)
        if entry.expires_at is not None:  # relative: the cache's clock need not be Redis's
            pipe.expire(key, max(1, int(entry.expires_at - entry.created_at + 0.999)))
        pipe.execute()

    def delete(self, entry_id: str) -> None:
        self._client.delete(self._key(entry_id))

    def clear(self) -> None:
        keys = list(self._client.scan_iter(match=f"{self.prefix}e:*", count=1000))
        for i in range(0, len(keys), 1000):
            self._client.delete(*keys[i : i + 1000])

    def __len__(self) -> int:
        return sum(1 for _ in self._client.scan_iter(match=f"{self.prefix}e:*", count=1000))

    def close(self) -> None:
        self._client.close()


def _documents(raw: Any) -> list[tuple[str, dict[bytes, bytes]]]:
    """(key, fields) of an FT.SEARCH reply, in RESP2 (flat list) or RESP3 (map) form.

    Keys that are not UTF-8 are skipped (no entry of ours has one)."""
    docs = []
    if isinstance(raw, dict):  # RESP3, redis-py's default with protocol=3
        for doc in raw.get(b"results", []):
            try:
                docs.append((doc[b"id"].decode(), dict(doc.get(b"extra_attributes") or {})))
            except (UnicodeDecodeError, KeyError, AttributeError):
                continue
        return docs
    for i in range(1, len(raw), 2):
        values = raw[i + 1]
        try:
            key = raw[i].decode()
        except UnicodeDecodeError:
            continue
        docs.append((key, {values[j]: values[j + 1] for j in range(0, len(values), 2)}))
    return docs
