"""Answer cache: exact and semantic lookup over memory, disk and Redis tiers, with
false-hit guards, scopes, TTL, versioned invalidation and single-flight."""

from tokenomy.cache.cache import Mode, SemanticCache
from tokenomy.cache.entry import CacheEntry
from tokenomy.cache.keys import CacheKey, make_key, normalize_messages
from tokenomy.cache.singleflight import SingleFlight
from tokenomy.cache.stats import Answer, CacheHit, CacheStats, StoreResult
from tokenomy.cache.tiers import CacheTier, DiskTier, MemoryTier, RedisTier

__all__ = [
    "Answer",
    "CacheEntry",
    "CacheHit",
    "CacheKey",
    "CacheStats",
    "CacheTier",
    "DiskTier",
    "MemoryTier",
    "Mode",
    "RedisTier",
    "SemanticCache",
    "SingleFlight",
    "StoreResult",
    "make_key",
    "normalize_messages",
]
