"""Embeddings: the ``Embedder`` protocol, the local MiniLM default, and an embedding cache."""

import threading
from typing import Any

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


class EmbedderOrDefault:
    """A class attribute that reads as the instance's ``_embedder``, or, when that is
    None, as :func:`default_embedder` (stored on first use).

    Components take ``embedder=None`` and declare ``embedder = EmbedderOrDefault()``,
    so MiniLM loads only when one of them first embeds.
    """

    def __get__(self, obj: Any, owner: type | None = None) -> Embedder:
        if obj._embedder is None:
            obj._embedder = default_embedder()
        embedder: Embedder = obj._embedder
        return embedder
