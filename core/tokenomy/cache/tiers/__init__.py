"""Cache tiers: memory (L1), disk (L2, diskcache), Redis (L3, vector search)."""

from tokenomy.cache.tiers.base import CacheTier
from tokenomy.cache.tiers.disk import DiskTier
from tokenomy.cache.tiers.memory import MemoryTier
from tokenomy.cache.tiers.redis import RedisTier

__all__ = ["CacheTier", "DiskTier", "MemoryTier", "RedisTier"]
