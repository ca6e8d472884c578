"""Counters of a cache's work, and the records describing hits and answers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tokenomy.tokens.usage import TokenUsage

__all__ = ["CACHE_HIT_KEY", "Answer", "CacheHit", "CacheStats", "StoreResult"]

CACHE_HIT_KEY = "tokenomy_cache_hit"
"""Key under which framework adapters mark a response served from a cache (its value
names the technique, e.g. ``"semantic_cache"``); the usage adapters read it to record
the call as tokens saved."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer offered to the cache.

    Attributes:
        payload: the answer serialized by the caller (returned as is on a hit).
        text: its plain text, to refuse empty answers.
        model: the model that produced it.
        usage: what producing it cost, so later hits count as tokens saved.
        finish_reason: the provider's; ``"length"`` (cut by max_tokens) is refused.
        cacheable: False to refuse it (the caller marked it uncacheable).
        error: True for an error response, which is always refused.
        price_factor: the share of the list price the provider billed for it (0.5
            for an answer from a Batch API job); budgets and the ledger charge it.
    """

    payload: str
    text: str
    model: str | None = None
    usage: TokenUsage | None = None
    finish_reason: str | None = None
    cacheable: bool = True
    error: bool = False
    price_factor: float = 1.0


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A lookup that found an answer.

    Attributes:
        kind: ``"exact"`` (same normalized request) or ``"semantic"`` (same
            conversation, a last question with the same meaning).
        similarity: cosine similarity in [0, 1] of the two questions (1.0 for exact).
        score: the pair verifier's probability that the questions are the same
            (None for exact hits or when no verifier is used).
        tier: the tier that held it (``"memory"``, ``"disk"``, ``"redis"``…).
        matched_query: the cached question that matched.
        usage: what the cached answer cost to produce (saved by this hit).
        cost_saved_usd: its price, when the model's price is known.
        entry_id: the entry's id in its tiers (for :meth:`SemanticCache.discard`).
        hit_id: this semantic hit's id, for :meth:`SemanticCache.feedback` (empty for
            exact hits).
    """

    payload: str
    kind: Literal["exact", "semantic"]
    similarity: float
    score: float | None
    tier: str
    matched_query: str | None
    model: str | None
    usage: TokenUsage
    cost_saved_usd: float | None
    entry_id: str = ""
    hit_id: str = ""


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Whether an answer was stored, and why not if it was refused."""

    stored: bool
    reason: str | None = None


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``rejected`` counts semantic candidates the verifier turned down, by reason
    (``negation``, ``antonym``, ``direction``, ``swapped_args``, ``numbers``,
    ``ordinal``, ``units``, ``dates``, ``entities``, ``quantifier``, ``scope``,
    ``modality``, ``content_words``; see :mod:`tokenomy.cache.differences`);
    ``feedback`` counts :meth:`SemanticCache.feedback` reports (``correct``,
    ``wrong``, ``unknown hit id``); with ``max_error`` set, ``error_estimate`` maps
    each scope (``""``: none) to its estimated share of wrong semantic hits;
    ``refused`` counts answers not stored, by reason. ``tier_errors`` counts
    failed tier calls under the tier's name when the tier was unreachable (it is
    then skipped for a while); as ``"<tier>: <exception type>"`` for other failures
    (a full disk: the tier stays in use); and as ``"<tier>: <reason>"`` for stored
    entries refused on read (``undecodable``, ``invalid``, ``unsigned``, ``bad
    signature``, ``unsupported schema``), each of which is deleted and read as a miss.
    """

    lookups: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    stores: int = 0
    promotions: int = 0
    single_flight_shared: int = 0
    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    cost_saved_usd: float = 0.0
    rejected: Mapping[str, int] = field(default_factory=dict)
    refused: Mapping[str, int] = field(default_factory=dict)
    tier_errors: Mapping[str, int] = field(default_factory=dict)
    tier_skips: Mapping[str, int] = field(default_factory=dict)
    feedback: Mapping[str, int] = field(default_factory=dict)
    max_error: float | None = None
    error_estimate: Mapping[str, float] = field(default_factory=dict)

    @property
    def hits(self) -> int:
        return self.exact_hits + self.semantic_hits

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


class _Counters:
    """The mutable, thread-safe counters behind :class:`CacheStats`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: Counter[str] = Counter()
        self.cost_saved = 0.0
        self.maps: dict[str, Counter[str]] = {
            "rejected": Counter(),
            "refused": Counter(),
            "tier_errors": Counter(),
            "tier_skips": Counter(),
            "feedback": Counter(),
        }

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.values[name] += n

    def count(self, group: str, key: str, n: int = 1) -> None:
        with self.lock:
            self.maps[group][key] += n

    def hit(self, hit: CacheHit) -> None:
        with self.lock:
            self.values["exact_hits" if hit.kind == "exact" else "semantic_hits"] += 1
            self.values["input_tokens_saved"] += hit.usage.input_tokens
            self.values["output_tokens_saved"] += hit.usage.output_tokens
            self.cost_saved += hit.cost_saved_usd or 0.0

    def snapshot(self) -> CacheStats:
        with self.lock:
            v = self.values
            return CacheStats(
                lookups=v["lookups"],
                exact_hits=v["exact_hits"],
                semantic_hits=v["semantic_hits"],
                misses=v["misses"],
                stores=v["stores"],
                promotions=v["promotions"],
                single_flight_shared=v["single_flight_shared"],
                input_tokens_saved=v["input_tokens_saved"],
                output_tokens_saved=v["output_tokens_saved"],
                cost_saved_usd=self.cost_saved,
                rejected=dict(self.maps["rejected"]),
                refused=dict(self.maps["refused"]),
                tier_errors=dict(self.maps["tier_errors"]),
                tier_skips=dict(self.maps["tier_skips"]),
                feedback=dict(self.maps["feedback"]),
            )
