"""Which caches may block: the pipeline runs those in a worker thread, the rest on the
event loop."""

from __future__ import annotations

from fakes import BrokenTier

from tokenomy.cache import DiskTier, MemoryTier, SemanticCache
from tokenomy.embed import HashingEmbedder


def test_an_exact_cache_in_memory_never_blocks_and_io_or_embeddings_may(tmp_path):
    assert SemanticCache(mode="exact").blocking is False
    assert SemanticCache(mode="exact", tiers=[MemoryTier(), BrokenTier()]).blocking is True
    assert SemanticCache(mode="exact", tiers=[DiskTier(tmp_path)]).blocking is True
    semantic = SemanticCache(embedder=HashingEmbedder(), verifier=None, similarity=0.9)
    assert semantic.blocking is True
