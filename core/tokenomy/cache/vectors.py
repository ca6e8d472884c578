"""In-memory vector indexes for cache lookups: exact brute force for small groups,
HNSW (usearch) past a size where a scan stops being fast.

Vectors are L2-normalized float32, so similarity is the inner product (cosine).
Ids are strings; indexes map them to rows internally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ANN_THRESHOLD", "VectorGroup"]

ANN_THRESHOLD: Final = 20_000
"""Group size above which a group switches from a numpy scan to an HNSW index
(benchmarks/cache_latency.py measures both)."""


class VectorGroup:
    """The vectors of one (partition, context) group, searchable by cosine.

    Starts as a numpy matrix scanned in full (exact); once it holds more than
    ``ann_threshold`` vectors it also builds a usearch HNSW index and searches
    that instead. Removal is supported in both modes.
    """

    def __init__(self, dim: int, *, ann_threshold: int = ANN_THRESHOLD) -> None:
        import numpy as np

        if dim < 1:
            raise ConfigError(f"dim must be >= 1; got {dim!r}.")
        self.dim = dim
        self.ann_threshold = ann_threshold
        self._matrix = np.zeros((16, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._ann: Any = None
        self._ann_keys: dict[str, int] = {}
        self._ann_ids: dict[int, str] = {}
        self._next_key = 0

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def add(self, item_id: str, vector: np.ndarray) -> None:
        """Add or replace ``item_id``'s vector."""
        import numpy as np

        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape[0] != self.dim:
            raise ConfigError(f"vector has {vec.shape[0]} dimensions, the index {self.dim}.")
        if item_id in self._rows:
            self.remove(item_id)
        n = len(self._ids)
        if n == self._matrix.shape[0]:
            grown = np.zeros((n * 2, self.dim), dtype=np.float32)
            grown[:n] = self._matrix
            self._matrix = grown
        self._matrix[n] = vec
        self._ids.append(item_id)
        self._rows[item_id] = n
        if self._ann is not None:
            self._ann_add(item_id, vec)
        elif n + 1 > self.ann_threshold:
            self._build_ann()

    def remove(self, item_id: str) -> None:
        """Remove ``item_id`` if present."""
        row = self._rows.pop(item_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:  # move the last row into the hole
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._ids.pop()
        if self._ann is not None:
            key = self._ann_keys.pop(item_id)
            del self._ann_ids[key]
            self._ann.remove(key)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (id, cosine similarity) pairs, most similar first."""
        import numpy as np

        n = len(self._ids)
        if n == 0 or k < 1:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self._ann is not None:
            found = self._ann.search(query, min(k, n))
            out = []
            for key, dist in zip(found.keys, found.distances, strict=True):
                item = self._ann_ids.get(int(key))
                if item is not None:
                    out.append((item, float(1.0 - dist)))
            return out
        sims = self._matrix[:n] @ query
        if k < n:
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top])]
        else:
            top = np.argsort(-sims)
        return [(self._ids[i], float(sims[i])) for i in top]

    # -- HNSW ---------------------------------------------------------------------

    def _build_ann(self) -> None:
        from tokenomy._optional import require

        index_mod = require("usearch.index", feature="the HNSW cache index", package="usearch",
                            extra="all")
        self._ann = index_mod.Index(ndim=self.dim, metric="cos", dtype="f32", connectivity=16,
                                    expansion_add=128, expansion_search=64)
        import numpy as np

        keys = np.arange(len(self._ids), dtype=np.uint64)
        for key, item_id in enumerate(self._ids):
            self._ann_keys[item_id] = key
            self._ann_ids[key] = item_id
        self._next_key = len(self._ids)
        self._ann.add(keys, self._matrix[: len(self._ids)])

    def _ann_add(self, item_id: str, vec: np.ndarray) -> None:
        key = self._next_key
        self._next_key += 1
        self._ann_keys[item_id] = key
        self._ann_ids[key] = item_id
        self._ann.add(key, vec)
