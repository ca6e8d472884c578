"""Embeddings: the ``Embedder`` protocol, the local MiniLM default, and an embedding cache."""

import threading

from tokenomy.embed.embedders import (
    DEFAULT_EMBED_THREADS,
    CachedEmbedder,
    CallableEmbedder,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
)

__all__ = [
    "DEFAULT_EMBED_THREADS",
    "CachedEmbedder",
    "CallableEmbedder",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
]

_default: CachedEmbedder | None = None
_lock = threading.Lock()


def default_embedder() -> CachedEmbedder:
    """The bundled MiniLM behind an in-memory embedding cache, shared by the process.

    Built on first call (the model itself loads on the first ``embed``), so that
    several components do not each load a copy of the model.
    """
    global _default
    with _lock:
        if _default is None:
            _default = CachedEmbedder(SentenceTransformerEmbedder())
        return _default
