"""The answer cache: exact and semantic lookup over tiers, with false-hit guards.

A lookup first tries the exact key in every tier (memory, then disk, then
Redis). In semantic mode it then embeds the last user turn and asks each tier for
the nearest cached questions *of the same partition and conversation context*
(model + parameters, scope, version; system prompt, history and tools). A
candidate is accepted only if its cosine similarity reaches ``similarity`` and the
verifier finds nothing in what differs between the two questions that changes the
answer (:mod:`tokenomy.cache.diff_verifier`; each refusal is counted by reason in
``stats().rejected``). With ``max_error`` set, semantic hits are held to that share of
wrong hits per scope (:mod:`tokenomy.cache.error_bound`), learning from
:meth:`SemanticCache.feedback`. A hit in a lower tier is copied into the tiers above it.

A tier that raises is skipped for ``retry_after_s`` seconds (doubling on repeated
failure, at most 16x), with a logged warning and a counter; the call goes on with
the other tiers, and the tier is used again once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tokenomy.cache.entry import CacheEntry
from tokenomy.cache.keys import CacheKey, make_key
from tokenomy.cache.singleflight import SingleFlight
from tokenomy.cache.stats import Answer, CacheHit, CacheStats, StoreResult, _Counters
from tokenomy.cache.tiers.base import CacheTier
from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import ConfigError
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.cache.diff_verifier import DiffVerifier
    from tokenomy.cache.judge import VerifierName
    from tokenomy.cache.verifier import PairVerifier
    from tokenomy.embed import Embedder

__all__ = ["Mode", "SemanticCache"]

logger = logging.getLogger(__name__)

Mode = Literal["exact", "semantic"]
Prompt = str | Sequence[Mapping[str, Any]]
T = TypeVar("T")

DEFAULT_MAX_CANDIDATES = 5
DEFAULT_RETRY_AFTER_S = 5.0
_MAX_BACKOFF = 16


@dataclass
class _TierState:
    tier: CacheTier
    down_until: float = 0.0
    failures: int = 0


class SemanticCache:
    """A tiered answer cache keyed by meaning, safe against false hits and scope leaks.

    Args:
        tiers: from fastest to slowest (default: one in-memory tier). Writes go to
            every tier; a hit in a lower tier is promoted.
        embedder: embeds questions (default: the bundled MiniLM with an embedding cache).
        mode: ``"semantic"`` (default) or ``"exact"`` (no embeddings at all).
        similarity: cosine similarity in [0, 1] a cached question must reach before
            the verifier looks at it (default: the verifier's floor, or 0.95 without
            a verifier).
        verifier: ``"default"``/``"diff"`` (the difference-aware
            :class:`~tokenomy.cache.diff_verifier.DiffVerifier`), ``"qqp"`` (the
            earlier default: trees fitted on Quora Question Pairs behind the hard
            guards), a verifier object, or None to trust the similarity alone.
        guards: apply the hard guards of :mod:`tokenomy.cache.guards` in front of a
            ``"qqp"`` verifier or of no verifier (default True; the diff verifier
            has its own rules).
        max_error: keep the share of wrong semantic hits at or under this, per scope,
            e.g. 0.01 (default None: the verifier's own threshold). Calibrated on the
            contrast set at start and learning from :meth:`feedback`; serves fewer
            hits rather than exceed it. ``stats().error_estimate`` reports it.
        ttl_seconds: default lifetime of an entry (default None: no expiry).
        version: a model or prompt-template version; changing it invalidates the
            entries stored under the previous one.
        share_across_scopes: let every scope see every entry (default False: an
            entry is visible only to the scope that stored it).
        prices: price table, to value hits (default: the bundled one).
        clock: epoch seconds (default ``time.time``); inject one in tests.

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> cache = SemanticCache(embedder=HashingEmbedder(), verifier=None, similarity=0.9)
        >>> cache.store("What is the capital of France?", Answer(payload="Paris", text="Paris"))
        StoreResult(stored=True, reason=None)
        >>> cache.lookup("what is the capital of france").payload
        'Paris'
        >>> cache.lookup("What is the capital of France?", scope="alice") is None
        True
    """

    def __init__(
        self,
        *,
        tiers: Sequence[CacheTier] | None = None,
        embedder: Embedder | None = None,
        mode: Mode = "semantic",
        similarity: float | None = None,
        verifier: PairVerifier | DiffVerifier | VerifierName | None = "default",
        guards: bool = True,
        max_error: float | None = None,
        ttl_seconds: float | None = None,
        version: str = "",
        share_across_scopes: bool = False,
        prices: PriceTable | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in ("exact", "semantic"):
            raise ConfigError(f"mode must be 'exact' or 'semantic'; got {mode!r}.")
        if similarity is not None and not 0.0 <= similarity <= 1.0:
            raise ConfigError(
                f"similarity is a cosine similarity in [0, 1]; got {similarity!r}. (It is not a "
                "distance: 1.0 means identical, higher is stricter.)"
            )
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ConfigError(f"ttl_seconds must be > 0 or None; got {ttl_seconds!r}.")
        if tiers is None:
            from tokenomy.cache.tiers.memory import MemoryTier

            tiers = [MemoryTier()]
        if not tiers or not all(isinstance(t, CacheTier) for t in tiers):
            raise ConfigError("tiers must be a non-empty list of CacheTier objects.")
        self._tiers = [_TierState(t) for t in tiers]
        self.mode = mode
        self._embedder = embedder
        from tokenomy.cache.judge import HitJudge, resolve_verifier

        if mode != "semantic" and isinstance(verifier, str):
            verifier = None
        self.verifier: PairVerifier | DiffVerifier | None = resolve_verifier(verifier)
        if similarity is None:
            similarity = self.verifier.min_similarity if self.verifier is not None else 0.95
        self.similarity = float(similarity)
        self.guards = guards
        self.ttl_seconds = ttl_seconds
        self.version = version
        self.share_across_scopes = share_across_scopes
        self.prices = prices or PriceTable.default()
        self.clock = clock
        self.max_candidates = DEFAULT_MAX_CANDIDATES
        self.retry_after_s = DEFAULT_RETRY_AFTER_S
        self.flight: SingleFlight[Any] = SingleFlight()
        self._counters = _Counters()
        self._lock = threading.Lock()
        self.max_error = max_error
        self._judge = HitJudge(
            self.verifier,
            guards=guards,
            counters=self._counters,
            max_error=max_error if mode == "semantic" else None,  # exact hits are never wrong
        )

    # -- public API --------------------------------------------------------------------

    @property
    def tiers(self) -> list[CacheTier]:
        return [s.tier for s in self._tiers]

    embedder = EmbedderOrDefault()

    @property
    def blocking(self) -> bool:
        """Whether a lookup or a store may block: a tier doing I/O, or embeddings (the
        semantic mode). An exact cache in memory answers in microseconds."""
        return self.mode == "semantic" or any(s.tier.blocking for s in self._tiers)

    def key(
        self,
        prompt: Prompt,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> CacheKey:
        """The key of a request (see :mod:`tokenomy.cache.keys`).

        Raises:
            ConfigError: ``scope`` is an empty or blank string (pass None for no scope).
        """
        if scope is not None and (not isinstance(scope, str) or not scope.strip()):
            raise ConfigError(
                f"scope must be a non-empty string naming a tenant or user, or None for no "
                f"scope; got {scope!r}. An empty scope would share entries with every call "
                "made without one."
            )
        effective_scope = "" if self.share_across_scopes else (scope or "")
        return make_key(prompt, llm=llm, scope=effective_scope, version=self.version, tools=tools)

    def lookup(
        self,
        prompt: Prompt,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        key: CacheKey | None = None,
        price_factor: float = 1.0,
    ) -> CacheHit | None:
        """The cached answer for a request, or None.

        Args:
            prompt: the prompt text or OpenAI-style chat messages.
            llm: the model and its parameters (LangChain's ``llm_string``).
            scope: tenant / user the request belongs to.
            tools: the tool schemas sent with the request.
            key: ``self.key(prompt, llm=..., scope=..., tools=...)`` when the caller
                has it already (the pipeline computes it once per call).
            price_factor: the share of the list price the request would be billed
                (a Batch API request: 0.5): a hit saves that much.
        """
        key = key or self.key(prompt, llm=llm, scope=scope, tools=tools)
        self._counters.add("lookups")
        now = self.clock()
        hit = self._lookup_exact(key, now)
        if hit is None and self.mode == "semantic" and key.query is not None:
            hit = self._lookup_semantic(key, now)
        if hit is None:
            self._counters.add("misses")
            return None
        hit = _billed(hit, price_factor)
        self._counters.hit(hit)
        return hit

    def peek(
        self,
        prompt: Prompt,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        key: CacheKey | None = None,
        price_factor: float = 1.0,
    ) -> CacheHit | None:
        """The request's exact entry, if stored: no semantic search, not counted as a
        lookup (the pipeline's re-check before a new single-flight leader calls)."""
        key = key or self.key(prompt, llm=llm, scope=scope, tools=tools)
        hit = self._lookup_exact(key, self.clock())
        if hit is None:
            return None
        hit = _billed(hit, price_factor)
        self._counters.hit(hit)
        return hit

    def store(
        self,
        prompt: Prompt,
        answer: Answer,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        ttl_seconds: float | None = None,
        key: CacheKey | None = None,
    ) -> StoreResult:
        """Cache ``answer`` for a request, unless it must not be cached.

        Errors, empty answers, answers cut by ``finish_reason == "length"`` and
        answers marked uncacheable are refused (and counted by reason).
        """
        reason = _refusal(answer)
        if reason is not None:
            self._counters.count("refused", reason)
            return StoreResult(False, reason)
        key = key or self.key(prompt, llm=llm, scope=scope, tools=tools)
        now = self.clock()
        ttl = ttl_seconds if ttl_seconds is not None else self.ttl_seconds
        usage = answer.usage or _estimate_usage(prompt, answer)
        entry = CacheEntry(
            id=_entry_id(key),
            partition=key.partition,
            context=key.context,
            query=key.query,
            vector=self._vector(key.query) if self.mode == "semantic" else None,
            payload=answer.payload,
            model=answer.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
        )
        stored = False
        for state in self._tiers:
            stored |= self._call(state, partial(_ok, state.tier.put, entry), False)
        if not stored:
            self._counters.count("refused", "no tier available")
            return StoreResult(False, "no tier available")
        self._counters.add("stores")
        return StoreResult(True)

    async def alookup(
        self,
        prompt: Prompt,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        key: CacheKey | None = None,
        price_factor: float = 1.0,
    ) -> CacheHit | None:
        """:meth:`lookup` in a worker thread (tier I/O and embedding are blocking)."""
        return await asyncio.to_thread(
            partial(self.lookup, key=key, price_factor=price_factor),
            prompt,
            llm=llm,
            scope=scope,
            tools=tools,
        )

    async def astore(
        self,
        prompt: Prompt,
        answer: Answer,
        *,
        llm: str = "",
        scope: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        ttl_seconds: float | None = None,
        key: CacheKey | None = None,
    ) -> StoreResult:
        """:meth:`store` in a worker thread."""
        return await asyncio.to_thread(
            partial(self.store, ttl_seconds=ttl_seconds, key=key),
            prompt,
            answer,
            llm=llm,
            scope=scope,
            tools=tools,
        )

    def stats(self) -> CacheStats:
        """A snapshot of the counters (with the error bound's estimates when set)."""
        snap = self._counters.snapshot()
        if self.flight.shared:
            snap = replace(snap, single_flight_shared=self.flight.shared)
        if self._judge.bound is not None:
            snap = replace(
                snap, max_error=self.max_error, error_estimate=self._judge.bound.summary()
            )
        return snap

    def feedback(self, hit_id: str, *, correct: bool, verified: bool = False) -> bool:
        """Report whether a served semantic hit's answer was right.

        With ``max_error`` set, a wrong hit raises its scope's threshold (fewer,
        safer hits); semantic hits not reported count as right. Counted in
        ``stats().feedback``.

        Args:
            hit_id: :attr:`CacheHit.hit_id` of the hit (also in the pipeline trace).
            correct: whether the served answer fit the question.
            verified: the outcome came from asking the model too (a verification call).

        Returns:
            False when the id is unknown: an exact hit, or one of more than 10,000
            hits ago.
        """
        return self._judge.feedback(hit_id, correct=correct, verified=verified)

    def discard(self, hit: CacheHit) -> None:
        """Delete a served entry from every tier (its payload could not be used)."""
        if hit.entry_id:
            self._counters.count("tier_errors", f"{hit.tier}: unusable payload")
            for state in self._tiers:
                self._call(state, partial(state.tier.delete, hit.entry_id), None)

    def clear(self) -> None:
        """Remove every entry from every reachable tier."""
        for state in self._tiers:
            self._call(state, state.tier.clear, None)

    def check(self) -> None:
        """Run every tier's invariant check."""
        for state in self._tiers:
            state.tier.check()

    # -- internals ---------------------------------------------------------------------

    def _call(self, state: _TierState, fn: Callable[[], T], default: T) -> T:
        """Run a tier operation; on failure return ``default``, never raise.

        Entries the tier refused while reading (undecodable, invalid, forged) are
        counted as ``tier_errors["<tier>: <reason>"]``. A failure the tier calls an
        outage (a lost connection) skips the tier for a while and counts under the
        tier's name; any other failure (a full disk, a refused write) is counted as
        ``"<tier>: <exception type>"`` and leaves the tier in use, so reads go on.
        """
        now = self.clock()
        if now < state.down_until:
            self._counters.count("tier_skips", state.tier.name)
            return default
        try:
            result = fn()
        except Exception as exc:  # a failing tier must never fail the caller's request
            self._tier_failed(state, exc, now)
            return default
        finally:
            for reason, n in state.tier.take_bad_entries().items():
                self._counters.count("tier_errors", f"{state.tier.name}: {reason}", n)
        state.failures = 0
        return result

    def _tier_failed(self, state: _TierState, exc: Exception, now: float) -> None:
        name = state.tier.name
        try:
            outage = state.tier.is_outage(exc)
        except Exception:  # a tier's classifier must not fail the request either
            outage = True
        if not outage:
            self._counters.count("tier_errors", f"{name}: {type(exc).__name__}")
            logger.warning(
                "tokenomy cache: tier %r: %s: %s (the tier stays in use)",
                name,
                type(exc).__name__,
                exc,
            )
            return
        state.failures += 1
        backoff = self.retry_after_s * min(_MAX_BACKOFF, 2 ** (state.failures - 1))
        state.down_until = now + backoff
        self._counters.count("tier_errors", name)
        logger.warning(
            "tokenomy cache: tier %r failed (%s: %s); skipping it for %.0f s",
            name,
            type(exc).__name__,
            exc,
            backoff,
        )

    def _vector(self, query: str | None) -> np.ndarray | None:
        if query is None:
            return None
        try:
            vector: np.ndarray = self.embedder.embed([query])[0]
            return vector
        except Exception as exc:  # the embedder is a collaborator: degrade to exact-only
            self._counters.count("tier_errors", "embedder")
            logger.warning("tokenomy cache: embedding failed (%s); exact lookup only", exc)
            return None

    def _promote(self, entry: CacheEntry, found_at: int) -> None:
        for state in self._tiers[:found_at]:
            if self._call(state, partial(_ok, state.tier.put, entry), False):
                self._counters.add("promotions")

    def _hit(
        self,
        entry: CacheEntry,
        kind: Literal["exact", "semantic"],
        similarity: float,
        score: float | None,
        tier: str,
        hit_id: str = "",
    ) -> CacheHit:
        usage = TokenUsage(entry.input_tokens, entry.output_tokens)
        cost = self.prices.get(entry.model) if entry.model else None
        return CacheHit(
            payload=entry.payload,
            kind=kind,
            similarity=similarity,
            score=score,
            tier=tier,
            matched_query=entry.query,
            model=entry.model,
            usage=usage,
            cost_saved_usd=None if cost is None else cost.cost(usage).total_usd,
            entry_id=entry.id,
            hit_id=hit_id,
        )

    def _lookup_exact(self, key: CacheKey, now: float) -> CacheHit | None:
        entry_id = _entry_id(key)
        for i, state in enumerate(self._tiers):
            entry = self._call(state, partial(state.tier.get, entry_id, now), None)
            if entry is not None:
                self._promote(entry, i)
                return self._hit(entry, "exact", 1.0, None, state.tier.name)
        return None

    def _lookup_semantic(self, key: CacheKey, now: float) -> CacheHit | None:
        if key.query is None:
            return None
        vector = self._vector(key.query)
        if vector is None:
            return None
        for i, state in enumerate(self._tiers):
            candidates: list[tuple[CacheEntry, float]] = self._call(
                state,
                partial(
                    state.tier.search, key.partition, key.context, vector, self.max_candidates, now
                ),
                [],
            )
            for entry, sim in candidates:
                if sim < self.similarity or entry.query is None:
                    continue
                if _canonical(key.query) == _canonical(entry.query):
                    score: float | None = 1.0  # the same words but for case and punctuation
                else:
                    score = self._judge.verify(
                        key.query, entry.query, vector, entry.vector, key.scope, entry.id
                    )
                if score is None:
                    continue
                self._promote(entry, i)
                hit_id = self._judge.served(key.scope, score, key.query, entry.id)
                shown = score if self.verifier is not None else None
                return self._hit(entry, "semantic", sim, shown, state.tier.name, hit_id)
        return None


def _estimate_usage(prompt: Prompt, answer: Answer) -> TokenUsage:
    """Count what an answer without reported usage cost, so its hits still show savings."""
    from tokenomy.tokens.counter import TokenCounter

    counter = TokenCounter(answer.model)
    inp = counter.count(prompt) if isinstance(prompt, str) else counter.count_messages(prompt)
    return TokenUsage(inp, counter.count(answer.text))


def _ok(fn: Callable[..., None], *args: Any) -> bool:
    """Run ``fn`` and return True (so a tier write's success can be told from a skip)."""
    fn(*args)
    return True


_IGNORABLE = frozenset(".,!?;:'\"`()[]{}\u2018\u2019\u201c\u201d\u2026")


def _canonical(text: str) -> str:
    """Lower-cased words and symbols of a question, without sentence punctuation, quotes
    or extra spaces: "C++" and "C#" stay apart from "C", "~" from "%"."""
    out = []
    for ch in text.lower():
        if ch.isalnum():
            out.append(ch)
        elif ch in _IGNORABLE or ch.isspace():
            out.append(" ")
        else:
            out.append(f" {ch} ")
    return " ".join("".join(out).split())


def _entry_id(key: CacheKey) -> str:
    import hashlib

    return hashlib.blake2b(f"{key.partition}:{key.exact}".encode(), digest_size=16).hexdigest()


def _billed(hit: CacheHit, price_factor: float) -> CacheHit:
    """``hit`` saving what its request would have been billed, not the list price."""
    if price_factor == 1.0 or hit.cost_saved_usd is None:
        return hit
    return replace(hit, cost_saved_usd=hit.cost_saved_usd * price_factor)


def _refusal(answer: Answer) -> str | None:
    if not isinstance(answer, Answer):
        raise ConfigError(
            f"store() takes an Answer(payload=..., text=...); got {type(answer).__name__}."
        )
    if answer.error:
        return "error"
    if not answer.cacheable:
        return "uncacheable"
    if answer.finish_reason == "length":
        return "cut by length"
    if not answer.text.strip():
        return "empty"
    return None
