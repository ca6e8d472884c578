"""Tenants: an API key (stored hashed) names a tenant; its scope, models, budget and rate.

An unknown key is refused before anything else runs, so nothing is forwarded for
it. Keys are compared by their SHA-256 digest; the key itself is never stored,
logged or put in a cache key.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tokenomy.budget import Budget, SpendBudget
from tokenomy.serve.config import GatewayConfig, TenantConfig

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ANONYMOUS", "KeyRing", "RateLimiter", "Tenant", "local_budget"]

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
"""The tenant of every request when the configuration says ``auth: none``."""


@dataclass(frozen=True)
class Tenant:
    """A caller of the gateway, resolved from its API key.

    Attributes:
        name: the tenant's name (a ledger tag and a metrics label; never a key).
        config: what the configuration file says about it.
        budget: its spending limit (shared through Redis, or in this process), if any.
    """

    name: str
    config: TenantConfig
    budget: Budget | None = field(default=None, compare=False)

    def scope(self, user: str | None) -> str:
        """The cache scope of a request by ``user`` (the body's ``user`` field)."""
        base = self.config.scope_name(self.name)
        if self.config.scope_by_user and user:
            return f"{base}/user:{user}"
        return base


def local_budget(name: str, config: TenantConfig) -> Budget | None:
    """A tenant's ``budget_usd`` kept in this process (no Redis)."""
    return SpendBudget(config.budget_usd) if config.budget_usd else None


class KeyRing:
    """Looks tenants up by API key.

    Args:
        config: the gateway's configuration.
        budget: builds a tenant's budget from its name and configuration (default:
            :func:`local_budget`, per process; the gateway passes a shared one
            with Redis).

    Example:
        >>> from tokenomy.serve.config import hash_key
        >>> ring = KeyRing(GatewayConfig.from_mapping({
        ...     "models": {"m": {"base_url": "http://127.0.0.1:9/v1"}},
        ...     "tenants": {"acme": {"key_sha256": [hash_key("sk-acme")]}}}))
        >>> ring.tenant("sk-acme").name, ring.tenant("sk-other")
        ('acme', None)
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        budget: Callable[[str, TenantConfig], Budget | None] = local_budget,
    ) -> None:
        self._open = config.auth == "none"
        self._by_digest: dict[str, Tenant] = {}
        self.tenants: dict[str, Tenant] = {}
        for name, t in config.tenants.items():
            tenant = Tenant(name, t, budget(name, t))
            self.tenants[name] = tenant
            for digest in t.key_sha256:
                self._by_digest[digest] = tenant
        if self._open:
            anonymous = TenantConfig(key_sha256=["0" * 64], scope=ANONYMOUS)
            self.tenants.setdefault(ANONYMOUS, Tenant(ANONYMOUS, anonymous))

    def tenant(self, key: str | None) -> Tenant | None:
        """The tenant of ``key`` (None: refuse the request)."""
        if key:
            found = self._by_digest.get(hashlib.sha256(key.encode("utf-8")).hexdigest())
            if found is not None:
                return found
        return self.tenants[ANONYMOUS] if self._open else None


class RateLimiter:
    """Requests per minute per tenant: across replicas in Redis (a counter per tenant
    and minute), else (or while Redis is unreachable) a token bucket per process.

    Args:
        redis: an asyncio Redis client shared by the replicas, or None.
        prefix: Redis key prefix.
        clock: epoch seconds (default ``time.time``).
    """

    def __init__(
        self,
        *,
        redis: Redis | None = None,
        prefix: str = "tokenomy:rate:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)
        self._lock = threading.Lock()
        self._warned = False

    async def admit(self, tenant: Tenant) -> float | None:
        """None if the request may go on, else the seconds to wait before retrying."""
        rpm = tenant.config.rate_limit_rpm
        if rpm is None:
            return None
        if self.redis is not None:
            try:
                return await self._shared(tenant.name, rpm)
            except Exception as exc:  # Redis down: each replica enforces the limit locally
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "tokenomy serve: the shared rate limit is unavailable (%s: %s); each "
                        "replica enforces rate_limit_rpm on its own until Redis answers.",
                        type(exc).__name__,
                        exc,
                    )
        return self._local(tenant.name, rpm)

    async def _shared(self, name: str, rpm: int) -> float | None:
        assert self.redis is not None
        now = self.clock()
        minute = int(now // 60)
        key = f"{self.prefix}{name}:{minute}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 61)
        count, _ = await pipe.execute()
        self._warned = False
        if int(count) <= rpm:
            return None
        return max(0.001, (minute + 1) * 60 - now)

    def _local(self, name: str, rpm: int) -> float | None:
        now = self.clock()
        rate = rpm / 60.0
        with self._lock:
            tokens, at = self._buckets.get(name, (float(rpm), now))
            tokens = min(float(rpm), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return None
            self._buckets[name] = (tokens, now)
            return math.ceil((1.0 - tokens) / rate * 1000) / 1000


def tenant_tags(tenant: Tenant, extra: Mapping[str, Any]) -> dict[str, str]:
    """Ledger tags of a request: the caller's, then the tenant (which always wins)."""
    return {**{str(k): str(v) for k, v in extra.items()}, "tenant": tenant.name}
