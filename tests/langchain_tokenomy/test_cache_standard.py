"""langchain-tests' standard cache suites against TokenomyCache."""

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.caches import BaseCache
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from langchain_tokenomy import TokenomyCache
from tokenomy.cache import DiskTier, MemoryTier, SemanticCache
from tokenomy.embed import HashingEmbedder


def _semantic(tiers=None) -> TokenomyCache:
    return TokenomyCache(
        SemanticCache(
            tiers=tiers, embedder=HashingEmbedder(), verifier=None, guards=False, similarity=0.9
        )
    )


class TestTokenomyCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self) -> BaseCache:
        return _semantic()


class TestTokenomyCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self) -> BaseCache:
        return _semantic()


class TestTokenomyDiskCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, tmp_path) -> BaseCache:
        return _semantic([MemoryTier(), DiskTier(tmp_path / "l2")])


class TestTokenomyExactCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self) -> BaseCache:
        return TokenomyCache(SemanticCache(mode="exact"))
