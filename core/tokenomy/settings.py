"""Settings from keyword arguments or, explicitly, from ``TOKENOMY_*`` environment variables.

Nothing reads the environment at import time. ``Settings()`` (or
``Settings.from_env()``) reads variables named ``TOKENOMY_<GROUP>__<FIELD>``, e.g.
``TOKENOMY_MONITOR__LEDGER_PATH=usage.db``; the README's settings table lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.tokens.counter import DEFAULT_MODEL
from tokenomy.tokens.prices import PriceTable

if TYPE_CHECKING:
    from tokenomy.cache import CacheTier, SemanticCache

__all__ = ["CacheSettings", "MonitorSettings", "Settings", "TokensSettings"]


class TokensSettings(BaseModel):
    """Token counting and pricing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: str = Field(
        DEFAULT_MODEL, description="Model assumed when a call does not name one."
    )
    prices_file: Path | None = Field(
        None, description="JSON file whose prices override the bundled table."
    )


class MonitorSettings(BaseModel):
    """Usage ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ledger_path: Path | None = Field(
        None, description="SQLite ledger file; None keeps records in memory."
    )


class CacheSettings(BaseModel):
    """Answer cache (see tokenomy.cache.SemanticCache)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["exact", "semantic"] = Field(
        "semantic", description="Match by meaning or exactly."
    )
    similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Cosine similarity in [0, 1] a cached question must reach before the "
        "guards and verifier judge it (default: the verifier's floor).",
    )
    max_bytes: int = Field(256 * 2**20, gt=0, description="Memory tier bound, bytes (LRU).")
    disk_path: Path | None = Field(None, description="Folder of the disk tier; None: no disk tier.")
    disk_max_bytes: int = Field(2**30, gt=0, description="Disk tier bound, bytes (LRU).")
    redis_url: str | None = Field(None, description="Redis Stack URL of the shared tier.")
    ttl_seconds: float | None = Field(None, gt=0, description="Entry lifetime; None: no expiry.")
    version: str = Field("", description="Bump to invalidate every entry stored before.")
    share_across_scopes: bool = Field(False, description="Let every user see every entry.")


class Settings(BaseSettings):
    """All tokenomy settings, grouped by concern.

    Example:
        >>> Settings(monitor={"ledger_path": None}).ledger().__class__.__name__
        'InMemoryLedger'
    """

    model_config = SettingsConfigDict(
        env_prefix="TOKENOMY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    tokens: TokensSettings = TokensSettings()
    monitor: MonitorSettings = MonitorSettings()
    cache: CacheSettings = CacheSettings()

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``TOKENOMY_*`` environment variables (the only place tokenomy does)."""
        return cls()

    def price_table(self) -> PriceTable:
        """The bundled prices, overridden by ``tokens.prices_file`` when set."""
        table = PriceTable.default()
        if self.tokens.prices_file is not None:
            table = table.with_file(self.tokens.prices_file)
        return table

    def ledger(self) -> BaseLedger:
        """A SQLite ledger at ``monitor.ledger_path``, or an in-memory one."""
        if self.monitor.ledger_path is None:
            return InMemoryLedger()
        from tokenomy.monitor.sqlite import SQLiteLedger

        return SQLiteLedger(self.monitor.ledger_path)

    def answer_cache(self) -> SemanticCache:
        """A cache with the tiers ``cache.*`` describes: memory, then disk and Redis if set."""
        from tokenomy.cache import DiskTier, MemoryTier, RedisTier, SemanticCache

        c = self.cache
        tiers: list[CacheTier] = [MemoryTier(max_bytes=c.max_bytes)]
        if c.disk_path is not None:
            tiers.append(DiskTier(c.disk_path, max_bytes=c.disk_max_bytes))
        if c.redis_url:
            tiers.append(RedisTier(c.redis_url))
        return SemanticCache(
            tiers=tiers,
            mode=c.mode,
            similarity=c.similarity,
            ttl_seconds=c.ttl_seconds,
            version=c.version,
            share_across_scopes=c.share_across_scopes,
            prices=self.price_table(),
        )
