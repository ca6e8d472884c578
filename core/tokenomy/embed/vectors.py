"""In-memory vector indexes for similarity lookups (the cache's tiers, few-shot
selection): exact brute force for small groups, HNSW (faiss) past a size where a
scan stops being fast.

Measured on this project's 2-core machine with 384-d vectors
(benchmarks/cache_latency.py): a numpy scan takes 0.06 ms at 5k vectors, 0.46 ms
(p99 0.56 ms) at 20k and 8 ms (p99 16 ms) at 100k; faiss HNSW (M=32, efSearch=64)
takes 0.32 ms (p99 0.49 ms) at 100k with 99% top-1 agreement, where usearch took
1.2 ms (p99 2.7 ms), so faiss was chosen. faiss's HNSW cannot delete, so removed
vectors are masked and the index is rebuilt once a quarter of it is dead.

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
    ``ann_threshold`` vectors it also builds a faiss HNSW index (a one-time cost of
    a few seconds at 20k vectors) and searches that instead.
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
        self._ann_items: list[str | None] = []  # faiss id -> item (None once removed)
        self._ann_pos: dict[str, int] = {}
        self._dead = 0

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def add(self, item_id: str, vector: np.ndarray) -> None:
        """Add or replace ``item_id``'s vector."""
        self.add_many([item_id], vector)

    def add_many(self, item_ids: list[str], vectors: np.ndarray) -> None:
        """Add or replace several vectors at once (one index update)."""
        import numpy as np

        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(item_ids), -1)
        if vecs.shape[1] != self.dim:
            raise ConfigError(f"vectors have {vecs.shape[1]} dimensions, the index {self.dim}.")
        for item_id in item_ids:
            if item_id in self._rows:
                self.remove(item_id)
        n = len(self._ids)
        needed = n + len(item_ids)
        if needed > self._matrix.shape[0]:
            grown = np.zeros((max(needed, 2 * self._matrix.shape[0]), self.dim), dtype=np.float32)
            grown[:n] = self._matrix[:n]
            self._matrix = grown
        self._matrix[n:needed] = vecs
        for offset, item_id in enumerate(item_ids):
            self._ids.append(item_id)
            self._rows[item_id] = n + offset
        if self._ann is not None:
            self._ann_add(item_ids, vecs)
        elif needed > self.ann_threshold:
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
            self._ann_items[self._ann_pos.pop(item_id)] = None
            self._dead += 1
            if self._dead > len(self._ann_items) // 4:
                self._build_ann() if len(self._ids) > self.ann_threshold else self._drop_ann()

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (id, cosine similarity) pairs, most similar first."""
        import numpy as np

        n = len(self._ids)
        if n == 0 or k < 1:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if self._ann is not None:
            wanted = min(n, k) + min(self._dead, 64)  # room for masked (removed) vectors
            sims, ids = self._ann.search(query, wanted)
            out = []
            for i, sim in zip(ids[0], sims[0], strict=True):
                item = self._ann_items[i] if i >= 0 else None
                if item is not None:
                    out.append((item, float(sim)))
                    if len(out) == k:
                        break
            return out
        sims = self._matrix[:n] @ query[0]
        if k < n:
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top])]
        else:
            top = np.argsort(-sims)
        return [(self._ids[i], float(sims[i])) for i in top]

    # -- HNSW ---------------------------------------------------------------------

    def _build_ann(self) -> None:
        from tokenomy._optional import require

        faiss = require("faiss", feature="the HNSW cache index", package="faiss-cpu", extra="local")
        index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
        self._ann = index
        self._ann_items, self._ann_pos, self._dead = [], {}, 0
        self._ann_add(list(self._ids), self._matrix[: len(self._ids)])

    def _drop_ann(self) -> None:
        self._ann, self._ann_items, self._ann_pos, self._dead = None, [], {}, 0

    def _ann_add(self, item_ids: list[str], vectors: np.ndarray) -> None:
        start = len(self._ann_items)
        self._ann.add(vectors)
        for offset, item_id in enumerate(item_ids):
            self._ann_pos[item_id] = start + offset
            self._ann_items.append(item_id)
