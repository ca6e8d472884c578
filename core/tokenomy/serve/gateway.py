"""The gateway's parts, built once from the configuration: upstreams, tenants, the
answer cache, the context stage, routers, a pipeline per tenant and route, the
de-duplicator and the rate limiter.

The gateway keeps no state of its own that another replica would need: answers,
claims on upstream calls and rate counters live in Redis when ``redis_url_env`` is
set, so N replicas behind a load balancer act as one. Tenants' spend budgets are
shared through Redis too (``tokenomy.budget.RedisBudget``, one reservation script per
call), or kept per process without Redis (``tokenomy.budget.SpendBudget``).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from tokenomy.budget import Budget, Limit
from tokenomy.cache import CacheTier, MemoryTier, RedisTier, SemanticCache
from tokenomy.errors import ConfigError
from tokenomy.monitor import UsageRecorder
from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.pipeline import ContextStage, Pipeline, Sent
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.route.models import DEFAULT_QUALITY
from tokenomy.serve.batch import BatchAPI
from tokenomy.serve.codec import CallState
from tokenomy.serve.config import GatewayConfig, TenantConfig
from tokenomy.serve.dedup import Deduplicator
from tokenomy.serve.grouping import Grouper
from tokenomy.serve.metrics import Metrics
from tokenomy.serve.tenants import KeyRing, RateLimiter, Tenant, local_budget
from tokenomy.serve.upstream import Upstream
from tokenomy.settings import telemetry_from_env
from tokenomy.telemetry.otel import Telemetry, as_observers

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis

__all__ = ["CURRENT", "Gateway"]

log = logging.getLogger(__name__)

CURRENT: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "tokenomy_serve_call", default=None
)
"""The state of the request being handled (the ledger reads it from the pipeline's
worker threads, which copy the context)."""

UPSTREAM_POOLS = 16
"""With ``upstream_client: httpx``, the httpx clients the upstream calls take in turn.
httpcore assigns each request by scanning every connection of its pool (and polling
each idle socket), O(connections) per request: at 200 calls in flight one pool
spent most of the gateway's CPU there; sixteen pools of ~12 connections do not."""

REDIS_CONNECTIONS = 512
"""Connections of the gateway's own Redis pool, per process."""
REDIS_TIMEOUT_S = 2.0
"""Socket timeout of the gateway's own Redis client: longer than a follower's
one-second blocking read, short enough that a hung server costs little."""
BUDGET_TIMEOUT_S = 0.5
"""Socket timeout of the shared budgets' (blocking) Redis client: a reservation runs
on the request's path, so a hung Redis costs a call at most this before the budget
falls back to its per-process share."""
BUDGET_PREFIX = "tokenomy:serve:budget:"
"""Redis key prefix of the tenants' shared budgets (then the tenant's name)."""


@dataclass(frozen=True)
class DefaultCap:
    """The output slot: an answer cap for calls whose caller set none."""

    max_tokens: int

    def plan(self, sent: Sent) -> int | None:
        return sent.max_tokens if sent.max_tokens is not None else self.max_tokens


class _Recorder:
    """The ledger's recorder, told when an upstream call was shared: such a call cost
    this request nothing, and is recorded as saved by ``dedup_<how>``."""

    def __init__(self, inner: UsageRecorder) -> None:
        self.inner = inner

    def record_call(self, **fields: Any) -> Any:
        state = CURRENT.get()
        if state is not None and state.shared and not fields.get("cache_hit"):
            fields = {
                **fields,
                "cache_hit": f"dedup_{state.shared}",
                "usage": state.shared_usage or fields.get("usage"),
            }
        return self.inner.record_call(**fields)


class Gateway:
    """Everything a request needs, built from a configuration.

    Args:
        config: the parsed configuration file.
        environ: where the secrets the file names are read (usually ``os.environ``).
        transport: an httpx transport for the upstreams (tests); default: the network.
        redis: an asyncio Redis client (tests); default: one for ``redis_url_env``.
        telemetry: where spans and metrics go (default: the global providers when the
            file or the environment switches telemetry on).

    Raises:
        ConfigError: a secret is not set, a routed or budgeted model has no price.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        environ: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
        redis: Redis | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.config = config
        self.secrets = config.secrets(environ)
        self.prices = config.price_table()
        self._budget_client: Any = None
        self.keys = KeyRing(config, budget=self._budget)
        self.metrics = Metrics()
        tiers = self._tiers() if config.cache.mode != "none" else []
        self.cache = self._cache(tiers)
        self.embedding_cache = self._cache(tiers, mode="exact")
        self.context = ContextStage(
            window=self._window(),
            compressor=self._compressor(),
            ratio=config.context.ratio,
            min_tokens=config.context.min_tokens,
        )
        self.routers = {name: self._router(name) for name in config.routes}
        self.price_names = {name: config.price_name(name) for name in config.models}
        self._check_budgets()
        self.recorder: _Recorder | None = None
        wanted = telemetry or (True if config.telemetry else None)
        observers = as_observers(telemetry_from_env(wanted))
        self.telemetry = bool(observers)
        """Whether calls are exported as OpenTelemetry spans (``telemetry: true`` in the
        file, or ``TOKENOMY_TELEMETRY__ENABLED=true``); spans join the caller's trace
        (its ``traceparent`` header)."""
        if config.ledger_path is not None or observers:
            ledger: BaseLedger = InMemoryLedger(max_records=1)  # telemetry only: no growth
            if config.ledger_path is not None:
                from tokenomy.monitor.sqlite import SQLiteLedger

                ledger = SQLiteLedger(config.ledger_path)
            self.recorder = _Recorder(
                UsageRecorder(
                    ledger=ledger, prices=self.prices, source="gateway", observers=observers
                )
            )
        self._transport = transport
        self._redis = redis
        self._own_redis = False
        self.clients: list[httpx.AsyncClient] = []
        self.upstreams: dict[str, Upstream] = {}
        self.dedup: Deduplicator | None = None
        self.batch: BatchAPI | None = None
        self.grouping: Grouper | None = None
        self.rate = RateLimiter()
        self._pipelines: dict[tuple[str, str | None, bool, bool], Pipeline[Any, Any]] = {}

    # -- lifetime ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the upstream client and the Redis connection (in the server's loop)."""
        import httpx

        timeout = httpx.Timeout(60.0, connect=10.0)
        if self._transport is not None or self.config.upstream_client == "aiohttp":
            transport = self._transport
            if transport is None:
                from tokenomy.serve.transport import AiohttpTransport

                transport = AiohttpTransport()
            self.clients = [httpx.AsyncClient(transport=transport, timeout=timeout)]
        else:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            self.clients = [
                httpx.AsyncClient(limits=limits, timeout=timeout) for _ in range(UPSTREAM_POOLS)
            ]
        self.upstreams = {
            name: Upstream(
                name=name,
                config=m,
                api_key=self.secrets.upstream_keys.get(name),
                clients=self.clients,
            )
            for name, m in self.config.models.items()
        }
        if self._redis is None and self.secrets.redis_url is not None:
            from tokenomy._optional import require

            aioredis = require(
                "redis.asyncio", package="redis", feature="the gateway", extra="server"
            )
            # a blocking pool: under a burst, calls wait for a connection instead of
            # failing with "too many connections" (followers hold one for a blocking read)
            pool = aioredis.BlockingConnectionPool.from_url(
                self.secrets.redis_url.get_secret_value(),
                max_connections=REDIS_CONNECTIONS,
                timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
                decode_responses=False,
            )
            self._redis = aioredis.Redis(connection_pool=pool)
            self._own_redis = True
        d = self.config.dedup
        if d.enabled:
            self.dedup = Deduplicator(
                redis=self._redis, window_s=d.window_seconds, lease_s=d.lease_seconds
            )
        self.rate = RateLimiter(redis=self._redis)
        b = self.config.batch
        if b.enabled:
            self.batch = BatchAPI(
                max_size=b.max_size,
                max_wait_s=b.max_wait_ms / 1000,
                poll_s=b.poll_seconds,
                completion_window=b.completion_window,
            )
        g = self.config.grouping
        if g.enabled:
            self.grouping = Grouper(
                max_size=g.max_size,
                max_wait_s=g.max_wait_ms / 1000,
                min_context_chars=g.min_context_chars,
                by=g.by,
            )

    async def aclose(self) -> None:
        if self.grouping is not None:
            await self.grouping.aclose()
        for tenant in self.keys.tenants.values():
            close = getattr(tenant.budget, "close", None)
            if close is not None:
                close()  # a shared budget's recovery thread
        if self._budget_client is not None:
            self._budget_client.close()
        if self.batch is not None:
            await self.batch.aclose()
        if self.dedup is not None:
            await self.dedup.aclose()
        for client in self.clients:
            await client.aclose()
        if self._redis is not None and self._own_redis:
            await self._redis.aclose(close_connection_pool=True)

    @property
    def redis(self) -> Redis | None:
        return self._redis

    # -- pipelines -----------------------------------------------------------------------

    def pipeline(
        self, tenant: Tenant, route: str | None, cached: bool, *, context: bool = True
    ) -> Pipeline[Any, Any]:
        """The pipeline of a tenant's calls to a route (None: a model) with or without
        the cache, and without the context stage when ``context`` is False (built once,
        then reused)."""
        key = (tenant.name, route, cached, context)
        pipe = self._pipelines.get(key)
        if pipe is None:
            spec = self.config.routes[route] if route is not None else None
            cap = tenant.config.max_tokens
            pipe = self._pipelines[key] = Pipeline(
                budget=tenant.budget,
                cache=self.cache if cached else None,
                context=self.context if context else None,
                router=self.routers[route] if route is not None else None,
                models=spec.models if spec is not None else None,
                fallback=spec.fallback if spec is not None else True,
                output=DefaultCap(cap) if cap is not None else None,
                prices=self.prices,
                recorder=self.recorder,
                record_calls=self.recorder is not None,
            )
        return pipe

    def embedding_pipeline(self, tenant: Tenant, cached: bool) -> Pipeline[Any, Any]:
        key = (tenant.name, "\0embeddings", cached, False)
        pipe = self._pipelines.get(key)
        if pipe is None:
            pipe = self._pipelines[key] = Pipeline(
                cache=self.embedding_cache if cached else None, prices=self.prices
            )
        return pipe

    @property
    def pipelines(self) -> list[Pipeline[Any, Any]]:
        return list(self._pipelines.values())

    # -- building the parts --------------------------------------------------------------

    def _budget(self, name: str, tenant: TenantConfig) -> Budget | None:
        """A tenant's ``budget_usd``: one limit shared by every replica in Redis
        (``RedisBudget``: each call reserves atomically, so N replicas never spend
        past it together; with Redis down each keeps to ``budget_fallback_share``),
        or a ``SpendBudget`` per process without Redis."""
        if tenant.budget_usd is None or self.secrets.redis_url is None:
            return local_budget(name, tenant)
        from tokenomy._optional import require
        from tokenomy.budget import RedisBudget

        if self._budget_client is None:
            redis = require("redis", feature="the gateway's shared budgets", extra="server")
            self._budget_client = redis.Redis.from_url(
                self.secrets.redis_url.get_secret_value(),
                socket_timeout=BUDGET_TIMEOUT_S,
                socket_connect_timeout=BUDGET_TIMEOUT_S,
            )
        return RedisBudget(
            client=self._budget_client,
            limits=[Limit(usd=tenant.budget_usd, name="total")],
            prefix=f"{BUDGET_PREFIX}{name}:",
            fallback_share=self.config.budget_fallback_share,
            timeout_s=BUDGET_TIMEOUT_S,
        )

    def _tiers(self) -> list[CacheTier]:
        c = self.config.cache
        tiers: list[CacheTier] = [MemoryTier(max_bytes=c.max_bytes)]
        if c.redis and self.secrets.redis_url is not None:
            key = self.secrets.signing_key
            tiers.append(
                RedisTier(
                    self.secrets.redis_url.get_secret_value(),
                    signing_key=key.get_secret_value() if key is not None else None,
                )
            )
        return tiers

    def _cache(
        self, tiers: list[CacheTier], mode: Literal["exact", "semantic"] | None = None
    ) -> SemanticCache | None:
        """A cache over ``tiers`` (the embedding cache is an exact one over the same
        tiers: whole embedding requests, in partitions of their own)."""
        c = self.config.cache
        if c.mode == "none":
            return None
        return SemanticCache(
            tiers=tiers,
            mode=mode or c.mode,
            ttl_seconds=c.ttl_seconds,
            version=c.version,
            prices=self.prices,
        )

    def _window(self) -> Any:
        tokens = self.config.context.window_tokens
        if tokens is None:
            return None
        from tokenomy.context import ConversationWindow

        c = self.config.context
        return ConversationWindow(
            max_tokens=tokens,
            overlap_tokens=min(512, tokens // 4),
            relevance_weight=2.0 if c.relevance else 0.0,
            summarizer="extractive" if c.summarize else None,
        )

    def _compressor(self) -> Any:
        if not self.config.context.compress:
            return None
        from tokenomy.compress import ExtractiveCompressor

        return ExtractiveCompressor()

    def _router(self, name: str) -> Router:
        route = self.config.routes[name]
        specs = []
        for model in route.models:
            m = self.config.models[model]
            price = self.prices.get(self.config.price_name(model))
            if price is None:
                raise ConfigError(
                    f"route {name!r} chooses by price, and model {model!r} has none: give it "
                    "price: {input: ..., output: ...} (USD per 1M tokens) or price_as: the name "
                    "of a model `tokenomy price --list` knows."
                )
            quality = m.quality if m.quality is not None else DEFAULT_QUALITY.get(price.model, 0.7)
            spec = ModelSpec.from_price(model, price, quality)
            if m.capabilities is not None:
                spec = replace(spec, capabilities=frozenset(m.capabilities))
            if m.context_window is not None:
                spec = replace(spec, context_window=m.context_window)
            specs.append(spec)
        return Router(
            ModelTable(specs), quality_target=route.quality_target, tolerance=route.tolerance
        )

    def _check_budgets(self) -> None:
        """A budget reserves each call's price before it starts: every model a budgeted
        tenant may call directly needs one."""
        for name, t in self.config.tenants.items():
            if t.budget_usd is None:
                continue
            allowed = self.config.models if "*" in t.models else t.models
            missing = sorted(
                m
                for m in allowed
                if m in self.config.models and self.prices.get(self.price_names[m]) is None
            )
            if missing:
                raise ConfigError(
                    f"tenant {name!r} has a budget, and models {missing} have no price to "
                    "reserve it with: give each price: {input: ..., output: ...} (USD per 1M "
                    "tokens) or price_as: a known model."
                )
