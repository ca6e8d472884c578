"""The gateway configuration's sections that tune one feature each: the answer cache,
de-duplication, the context stage, the Batch API and shared-context grouping (the
whole file is :class:`tokenomy.serve.config.GatewayConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_DEDUP_WINDOW_S",
    "DEFAULT_LEASE_S",
    "BatchConfig",
    "CacheConfig",
    "ContextConfig",
    "DedupConfig",
    "GroupingConfig",
]

DEFAULT_DEDUP_WINDOW_S = 60.0
"""The seed's DEDUP_WINDOW_SECONDS: an identical request answered this recently is
served that answer instead of a new upstream call."""
DEFAULT_LEASE_S = 2.0
"""How long a replica's claim on an upstream call lives without a heartbeat."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheConfig(_Strict):
    """The answer cache every request goes through.

    Attributes:
        mode: ``exact`` (default: same request, no embeddings), ``semantic`` (by
            meaning; loads the local MiniLM model) or ``none``.
        max_bytes: memory tier bound per process (default 256 MiB).
        redis: add the shared Redis tier when ``redis_url_env`` is set (default True).
        ttl_seconds: entry lifetime (default 86,400 s; None: no expiry).
        version: bump to invalidate every entry stored before.
        signing_key_env: environment variable holding an HMAC key that signs the
            Redis entries (every replica needs the same).
    """

    mode: Literal["exact", "semantic", "none"] = "exact"
    max_bytes: int = Field(256 * 2**20, gt=0)
    redis: bool = True
    ttl_seconds: float | None = Field(86_400.0, gt=0)
    version: str = ""
    signing_key_env: str | None = None


class DedupConfig(_Strict):
    """De-duplication of identical upstream calls, across replicas through Redis.

    Attributes:
        enabled: default True.
        window_seconds: an identical call answered this recently shares that answer
            (default 60; 0: only calls in flight are shared).
        lease_seconds: how long a replica's claim on a call outlives its last
            heartbeat (a killed replica's claim frees within this; default 2).
    """

    enabled: bool = True
    window_seconds: float = Field(DEFAULT_DEDUP_WINDOW_S, ge=0)
    lease_seconds: float = Field(DEFAULT_LEASE_S, gt=0)


class ContextConfig(_Strict):
    """What the context stage does to what is sent (the cache keys on what was asked).

    Attributes:
        compress: compress long user and tool messages (loads MiniLM; default False).
        ratio: share of a long message's tokens kept (default 0.4).
        min_tokens: messages shorter than this are sent as they are (default 800).
        window_tokens: fit each conversation to this many tokens (None: no window).
        relevance: with a window, keep the older turns most relevant to the question
            (MiniLM embeddings; default True), else the newest.
        summarize: with a window, replace evicted turns by an extractive summary
            (default True).
    """

    compress: bool = False
    ratio: float = Field(0.4, gt=0.0, le=1.0)
    min_tokens: int = Field(800, ge=1)
    window_tokens: int | None = Field(None, ge=64)
    relevance: bool = True
    summarize: bool = True


class BatchConfig(_Strict):
    """Deferrable requests through the upstream's Batch API (see tokenomy.serve.batch).

    Attributes:
        enabled: accept ``"tokenomy": {"deferrable": true}`` (default False: such
            requests are sent at once, like any other).
        max_size: requests per job (the seed's BATCH_SIZE; default 32).
        max_wait_ms: a job is sent this long after its first request at the latest
            (BATCH_TIMEOUT_MS; default 100).
        poll_seconds: how often a job's status is read (default 5).
        completion_window: the job's completion window (default ``24h``).
        price_factor: the share of the list price the upstream bills a job's answers
            at, which budgets and the ledger charge (default 0.5: OpenAI, Anthropic,
            Mistral, Groq and Together bill batch jobs at half price; 1.0 charges the
            list price).
    """

    enabled: bool = False
    max_size: int = Field(32, ge=1, le=50_000)
    max_wait_ms: float = Field(100.0, ge=0)
    poll_seconds: float = Field(5.0, gt=0)
    completion_window: str = "24h"
    price_factor: float = Field(0.5, gt=0, le=1)


class GroupingConfig(_Strict):
    """Shared-context grouping (see tokenomy.serve.grouping); off by default.

    Attributes:
        enabled: group plain chat requests that share a long context (default False).
        max_size: requests per grouped call (the seed's BATCH_SIZE; default 8).
        max_wait_ms: how long a group waits for more after its first request
            (BATCH_TIMEOUT_MS; default 50): what a grouped request may wait.
        min_context_chars: shorter contexts are not grouped (default 2000).
        by: ``messages`` (the messages before the question are the context) or
            ``prefix`` (SIMILARITY_GROUPING: also the question message's leading
            part up to its last blank line).
    """

    enabled: bool = False
    max_size: int = Field(8, ge=2, le=64)
    max_wait_ms: float = Field(50.0, ge=0)
    min_context_chars: int = Field(2000, ge=0)
    by: Literal["messages", "prefix"] = "messages"
