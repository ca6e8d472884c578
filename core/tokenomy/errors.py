"""The exception tree of tokenomy.

Every error raised on purpose by tokenomy derives from :class:`TokenomyError`, and
each subclass also inherits the matching built-in so callers can catch either::

    TokenomyError
    ├── ConfigError(ValueError)              a setting or argument is invalid
    │   └── UnknownNameError(KeyError)       a registry lookup by name failed
    ├── TokenizerError(RuntimeError)         a tokenizer file is missing or corrupt
    ├── PriceError(ValueError)               a price table or override is malformed
    ├── LedgerError(RuntimeError)            the usage ledger cannot be read or written
    ├── WorkloadError(ValueError)            a workload file cannot be audited at all
    ├── CacheEntryError(ValueError)          a stored cache entry is undecodable, invalid or
    │                                        forged (a counted miss; never reaches a caller)
    ├── CacheStorageError(OSError)           a cache folder cannot be opened or written
    ├── BudgetExceededError(RuntimeError)    a session or app has spent its token budget
    ├── AllModelsFailedError(RuntimeError)   every model of a fallback chain failed
    ├── UpstreamError(RuntimeError)          the gateway's upstream answered with an error
    │                                        or could not be reached (its status is relayed)
    └── MissingDependencyError(ImportError)  an optional package is not installed
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AllModelsFailedError",
    "BudgetExceededError",
    "CacheEntryError",
    "CacheStorageError",
    "ConfigError",
    "LedgerError",
    "MissingDependencyError",
    "PriceError",
    "TokenizerError",
    "TokenomyError",
    "UnknownNameError",
    "UpstreamError",
    "WorkloadError",
]


class TokenomyError(Exception):
    """Root of every error tokenomy raises on purpose."""


class ConfigError(TokenomyError, ValueError):
    """A setting or argument is invalid; the message names the value and the valid range."""

    @classmethod
    def unknown_keywords(
        cls, owner: str, unknown: Iterable[str], valid: Iterable[str]
    ) -> ConfigError:
        """The error for keyword arguments ``owner`` does not take, with the closest
        valid name for each (``ratoi`` -> ``ratio``) and the whole list.

        Example:
            >>> print(ConfigError.unknown_keywords("Compressor", ["ratoi"], ["ratio", "model"]))
            Compressor got an unknown keyword argument: 'ratoi' (did you mean 'ratio'?).
            Valid keywords: model, ratio.
        """
        names = sorted(valid)
        found = sorted(unknown)
        parts = []
        for name in found:
            close = difflib.get_close_matches(name, names, n=1)
            parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        what = "an unknown keyword argument" if len(found) == 1 else "unknown keyword arguments"
        return cls(f"{owner} got {what}: {', '.join(parts)}. Valid keywords: {', '.join(names)}.")


class UnknownNameError(ConfigError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class TokenizerError(TokenomyError, RuntimeError):
    """A tokenizer could not be loaded (missing file, hash mismatch, bad format)."""


class PriceError(TokenomyError, ValueError):
    """A price table or a price override is malformed."""


class LedgerError(TokenomyError, RuntimeError):
    """The usage ledger cannot be opened, read or written."""


class WorkloadError(TokenomyError, ValueError):
    """A workload file cannot be audited at all (missing, unreadable, or no valid line)."""


class CacheEntryError(TokenomyError, ValueError):
    """A stored cache entry failed to decode, validate or verify its signature.

    Raised inside the cache tiers only: the cache turns it into a miss, deletes the
    entry and counts it under ``CacheStats.tier_errors`` (``"<tier>: <reason>"``).
    ``reason`` is a short, stable label: ``"undecodable"``, ``"invalid"``,
    ``"unsigned"``, ``"bad signature"`` or ``"unsupported schema"``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class CacheStorageError(TokenomyError, OSError):
    """A cache tier's storage (a folder, a database) cannot be opened or written."""


class BudgetExceededError(TokenomyError, RuntimeError):
    """A token budget (per session, user or app) has no room left for the request."""


class AllModelsFailedError(TokenomyError, RuntimeError):
    """Every model of a fallback chain or cascade failed; ``attempts`` says how each did."""

    def __init__(self, message: str, attempts: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


class UpstreamError(TokenomyError, RuntimeError):
    """An upstream model server of the gateway answered with an error, or could not be
    reached; ``status`` and ``body`` (OpenAI's error JSON) are what the client gets."""

    def __init__(self, status: int, body: Any, model: str = "") -> None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        super().__init__(
            f"upstream {model!r} answered {status}: {message or body}" if model else str(body)
        )
        self.status = status
        self.body = body
        self.model = model


class MissingDependencyError(TokenomyError, ImportError):
    """An optional package needed by the feature in use is not installed."""
