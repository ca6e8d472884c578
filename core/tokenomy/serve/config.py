"""The gateway's configuration file: upstream models, routes, tenants, cache, de-duplication.

The file is YAML (JSON is YAML too). It never holds a secret: upstream API keys,
the Redis URL (it may carry a password) and the cache signing key are named by the
environment variable that holds them (``api_key_env``, ``redis_url_env``,
``signing_key_env``), and tenants' API keys are stored as SHA-256 hex digests
(``tokenomy serve --hash-key`` prints one). :meth:`GatewayConfig.from_file` reads
the file; :meth:`GatewayConfig.secrets` reads the environment it is given.

Example:
    >>> config = GatewayConfig.from_mapping({
    ...     "models": {"gpt-4o-mini": {"base_url": "http://127.0.0.1:9/v1"}},
    ...     "tenants": {"acme": {"key_sha256": [hash_key("sk-acme")]}},
    ... })
    >>> config.tenants["acme"].scope_name("acme"), config.cache.mode
    ('acme', 'exact')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator

from tokenomy.errors import ConfigError
from tokenomy.serve.sections import (
    DEFAULT_DEDUP_WINDOW_S,
    BatchConfig,
    CacheConfig,
    ContextConfig,
    DedupConfig,
    GroupingConfig,
    _Strict,
)
from tokenomy.tokens.prices import PriceTable

__all__ = [
    "DEFAULT_DEDUP_WINDOW_S",
    "BatchConfig",
    "CacheConfig",
    "ContextConfig",
    "DedupConfig",
    "GatewayConfig",
    "GroupingConfig",
    "ModelConfig",
    "RouteConfig",
    "Secrets",
    "TenantConfig",
    "hash_key",
]

DEFAULT_UPSTREAM_TIMEOUT_S = 120.0
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of an API key, as the configuration file stores it.

    Example:
        >>> hash_key("sk-test")[:12]
        '1e4a4e5b4f63'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class PriceConfig(_Strict):
    """USD per 1M tokens, for a model the bundled price table does not know."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)


class ModelConfig(_Strict):
    """One model name clients may ask for, and the OpenAI-compatible server behind it.

    Attributes:
        base_url: the upstream's base URL, up to ``/v1`` (``https://api.openai.com/v1``).
        model: the upstream's name for the model (default: the public name).
        api_key_env: environment variable holding the upstream API key (None: no key).
        price_as: price-table name for budgets and savings (default: ``model``).
        price: explicit prices instead of the table's.
        quality: prior success rate in [0, 1] when a route chooses among models.
        capabilities: ``tools``, ``vision``, ``json`` for routing (default: the
            price table's).
        context_window: max input tokens, for routing.
        timeout_s: upstream time limit per call (default 120 s).
        stream_usage: ask the upstream for a usage chunk at the end of a stream
            (``stream_options.include_usage``), so streamed calls are charged
            exactly (default True; turn off for servers that reject the option).
    """

    base_url: str
    model: str | None = None
    api_key_env: str | None = None
    price_as: str | None = None
    price: PriceConfig | None = None
    quality: float | None = Field(None, ge=0.0, le=1.0)
    capabilities: list[Literal["tools", "vision", "json"]] | None = None
    context_window: int | None = Field(None, ge=1)
    timeout_s: float = Field(DEFAULT_UPSTREAM_TIMEOUT_S, gt=0)
    stream_usage: bool = True

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if not re.match(r"^https?://[^/@\s]+(/.*)?$", self.base_url):
            raise ValueError(
                f"base_url must be an http(s) URL without credentials, e.g. "
                f"'https://api.openai.com/v1'; got {self.base_url!r} (put keys in api_key_env)."
            )
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise ValueError(
                f"api_key_env names an environment variable (e.g. OPENAI_API_KEY); got "
                f"{self.api_key_env!r}. Never put the key itself in the file."
            )
        return self


class RouteConfig(_Strict):
    """A model name that routes each request to the cheapest of ``models`` predicted
    to answer it well (``tokenomy.route.Router``), falling back to the others."""

    models: list[str] = Field(min_length=1)
    quality_target: float | None = Field(0.7, ge=0.0, le=1.0)
    tolerance: float | None = Field(None, ge=0.0, le=1.0)
    fallback: bool = True


class TenantConfig(_Strict):
    """Who may call, and within which limits.

    Attributes:
        key_sha256: SHA-256 hex digests of the tenant's API keys.
        scope: cache scope (default: the tenant's name); tenants never see each
            other's entries unless they name the same scope.
        scope_by_user: scope cache entries by the request's ``user`` field too.
        models: model and route names the tenant may use (``"*"``: all).
        budget_usd: a spending limit in USD over the gateway's life (None: none):
            one limit shared by every replica through Redis when ``redis_url_env``
            is set, else one per gateway process.
        rate_limit_rpm: requests per minute (across replicas when Redis is set).
        max_tokens: answer cap sent when the caller sets none (None: leave it).
    """

    key_sha256: list[str] = Field(min_length=1)
    scope: str | None = None
    scope_by_user: bool = False
    models: list[str] = Field(default_factory=lambda: ["*"])
    budget_usd: float | None = Field(None, gt=0)
    rate_limit_rpm: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> TenantConfig:
        bad = [k for k in self.key_sha256 if not _HEX64.match(k)]
        if bad:
            raise ValueError(
                f"key_sha256 holds lowercase SHA-256 hex digests (64 characters), never keys; "
                f"got {len(bad)} other value(s). Print one with: "
                'printf %s "$KEY" | tokenomy serve --hash-key'
            )
        if self.scope is not None and not self.scope.strip():
            raise ValueError("scope must be a non-empty name, or left out for the tenant's name.")
        return self

    def scope_name(self, tenant: str) -> str:
        return self.scope or tenant

    def allows(self, model: str) -> bool:
        return "*" in self.models or model in self.models


class GatewayConfig(_Strict):
    """The whole configuration file (see the module docstring and docs/gateway.md).

    ``budget_fallback_share``: with shared budgets and Redis unreachable, the share
    of each tenant's ``budget_usd`` one replica may spend on its own until Redis
    answers again (``tokenomy.budget.RedisBudget``'s ``fallback_share``; 0 refuses
    budgeted calls during an outage). ``prefix_layout``: send chat requests with their
    static parts first (tools sorted, late system messages and volatile system-prompt
    lines moved; see tokenomy.serve.layout), so providers' prompt caching hits.
    """

    models: dict[str, ModelConfig] = Field(min_length=1)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    tenants: dict[str, TenantConfig] = Field(default_factory=dict)
    auth: Literal["keys", "none"] = "keys"
    redis_url_env: str | None = None
    budget_fallback_share: float = Field(0.1, ge=0.0, le=1.0)
    cache: CacheConfig = CacheConfig()
    dedup: DedupConfig = DedupConfig()
    context: ContextConfig = ContextConfig()
    batch: BatchConfig = BatchConfig()
    grouping: GroupingConfig = GroupingConfig()
    prefix_layout: bool = False
    ledger_path: Path | None = None
    telemetry: bool = False
    trace_header: bool = True
    upstream_client: Literal["aiohttp", "httpx"] = "aiohttp"
    max_body_bytes: int = Field(16 * 2**20, ge=1024)

    @model_validator(mode="after")
    def _check(self) -> GatewayConfig:
        clash = sorted(set(self.routes) & set(self.models))
        if clash:
            raise ValueError(f"route names must differ from model names; both define {clash}.")
        for name, route in self.routes.items():
            unknown = sorted(set(route.models) - set(self.models))
            if unknown:
                raise ValueError(
                    f"route {name!r} names models {unknown} that are not under 'models' "
                    f"(defined: {sorted(self.models)})."
                )
        names = set(self.models) | set(self.routes)
        seen: dict[str, str] = {}
        for tenant, t in self.tenants.items():
            unknown = sorted(set(t.models) - names - {"*"})
            if unknown:
                raise ValueError(
                    f"tenant {tenant!r} may use {unknown}, which are neither models nor "
                    f"routes (defined: {sorted(names)})."
                )
            for digest in t.key_sha256:
                if digest in seen and seen[digest] != tenant:
                    raise ValueError(
                        f"tenants {seen[digest]!r} and {tenant!r} share an API key; give each "
                        "tenant its own keys."
                    )
                seen[digest] = tenant
        if self.auth == "keys" and not self.tenants:
            raise ValueError(
                "auth is 'keys' but no tenant is configured: add tenants with key_sha256, "
                "or set auth: none for a gateway that serves anyone who can reach it."
            )
        return self

    # -- loading --------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, source: str = "configuration"
    ) -> GatewayConfig:
        """Validate a parsed configuration; every problem is named with its place."""
        try:
            config = cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(
                f"{source} is not a valid gateway configuration: {problems}"
            ) from None
        config.price_table()  # explicit prices must parse
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> GatewayConfig:
        """Read a YAML (or JSON) configuration file.

        Raises:
            ConfigError: the file is missing, not YAML, or not a valid configuration.
        """
        from tokenomy._optional import require

        yaml = require(
            "yaml", package="PyYAML", feature="the gateway's configuration file", extra="server"
        )
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read the gateway configuration {str(file)!r}: {exc}. Pass "
                "--config PATH (see docs/gateway.md for the format)."
            ) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{str(file)!r} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{str(file)!r} must hold a mapping with at least 'models'; got "
                f"{type(data).__name__}."
            )
        return cls.from_mapping(data, source=repr(str(file)))

    # -- what the rest of the gateway asks of it --------------------------------------

    def price_table(self) -> PriceTable:
        """The bundled prices plus the file's explicit ones (by public model name)."""
        table = PriceTable.default()
        explicit = {
            name: m.price.model_dump(exclude_none=True)
            for name, m in self.models.items()
            if m.price is not None
        }
        return table.with_prices(explicit) if explicit else table

    def price_name(self, name: str) -> str:
        """The price-table name of a configured model."""
        m = self.models[name]
        return name if m.price is not None else (m.price_as or m.model or name)

    def secrets(self, environ: Mapping[str, str]) -> Secrets:
        """The secrets the file names, read from ``environ``.

        Raises:
            ConfigError: a named variable is not set.
        """

        def read(var: str | None, what: str) -> SecretStr | None:
            if var is None:
                return None
            value = environ.get(var)
            if not value:
                raise ConfigError(
                    f"{what} is read from the environment variable {var}, which is not set; "
                    f"export {var}=... in the gateway's environment."
                )
            return SecretStr(value)

        keys = {
            name: read(m.api_key_env, f"the API key of model {name!r}")
            for name, m in self.models.items()
        }
        return Secrets(
            upstream_keys={k: v for k, v in keys.items() if v is not None},
            redis_url=read(self.redis_url_env, "the Redis URL"),
            signing_key=read(self.cache.signing_key_env, "the cache signing key"),
        )


@dataclass(frozen=True)
class Secrets:
    """What the configuration names from the environment; ``repr`` shows no value."""

    upstream_keys: Mapping[str, SecretStr]
    redis_url: SecretStr | None = None
    signing_key: SecretStr | None = None
