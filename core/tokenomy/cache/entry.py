"""A cached answer and what it cost to produce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CacheEntry"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached answer.

    Attributes:
        id: unique within the cache (a hash of partition and exact key).
        partition / context / query: see :class:`~tokenomy.cache.keys.CacheKey`.
        vector: the query's embedding (None for exact-only entries).
        payload: the answer, serialized by whoever stored it (opaque to the cache).
        model / input_tokens / output_tokens: what producing the answer cost, so a
            hit can be recorded as tokens saved.
        created_at / expires_at: epoch seconds; ``expires_at`` None never expires.
    """

    id: str
    partition: str
    context: str
    query: str | None
    vector: np.ndarray | None
    payload: str
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: float = 0.0
    expires_at: float | None = None

    @property
    def nbytes(self) -> int:
        """Approximate memory footprint, for the byte bound."""
        size = 200 + len(self.payload.encode("utf-8", "surrogatepass"))
        size += len(self.query or "") + len(self.partition) + len(self.context) + len(self.id)
        if self.vector is not None:
            size += int(self.vector.nbytes)
        return size

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a disk or network tier (the vector as float32 bytes)."""
        return {
            "id": self.id,
            "partition": self.partition,
            "context": self.context,
            "query": self.query,
            "vector": None if self.vector is None else self.vector.astype("float32").tobytes(),
            "payload": self.payload,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheEntry:
        import numpy as np

        raw = data.get("vector")
        vector = None if raw is None else np.frombuffer(raw, dtype=np.float32).copy()
        return cls(
            id=str(data["id"]),
            partition=str(data["partition"]),
            context=str(data["context"]),
            query=data.get("query"),
            vector=vector,
            payload=str(data["payload"]),
            model=data.get("model"),
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            created_at=float(data.get("created_at") or 0.0),
            expires_at=None if data.get("expires_at") is None else float(data["expires_at"]),
        )
