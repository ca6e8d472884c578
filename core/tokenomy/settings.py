"""Settings from keyword arguments or, explicitly, from ``TOKENOMY_*`` environment variables.

Nothing reads the environment at import time. ``Settings()`` (or
``Settings.from_env()``) reads variables named ``TOKENOMY_<GROUP>__<FIELD>``, e.g.
``TOKENOMY_MONITOR__LEDGER_PATH=usage.db``; the README's settings table lists them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.tokens.counter import DEFAULT_MODEL
from tokenomy.tokens.prices import PriceTable

__all__ = ["MonitorSettings", "Settings", "TokensSettings"]


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
