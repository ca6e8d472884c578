"""A wrong-hit rate the user sets: the semantic cache serves fewer hits rather than exceed it.

:class:`ErrorBound` keeps, for each scope, a histogram of verifier scores of served
semantic hits and of the hits known to be wrong. It starts from the calibration the
verifier ships (its tuning-half scores of paraphrases and answer-changing minimal
pairs, a set with far more traps than real traffic), adds what the app reports
(:meth:`~tokenomy.cache.SemanticCache.feedback`), and picks the lowest score
threshold whose estimated share of wrong hits among served hits stays at or under
``max_error`` with a margin. The estimate is the posterior mean with a Jeffreys
prior, ``p = (wrong + 0.5) / (served + 1)``, over the hits scoring at or above the
threshold; the check is ``p + sqrt(p (1 - p) / (served + 2)) <= max_error`` (one
posterior standard deviation of margin). The scope's own outcomes must also pass on
their own (``(wrong + 0.5) / (served + 1) <= max_error`` over its hits above the
threshold), so the calibration never dilutes a scope's evidence of wrong hits. No
threshold qualifies: semantic hits stop (exact hits are always served).

Example:
    >>> bound = ErrorBound(0.05, scores=[0.9] * 60 + [0.4] * 10, same=[True] * 60 + [False] * 10)
    >>> bound.threshold("alice")
    0.405
    >>> bound.record("alice", 0.92, correct=False)
    >>> bound.record("alice", 0.93, correct=False)
    >>> bound.threshold("alice") > 1.0  # two wrong hits in 62: no semantic hits for alice
    True
    >>> bound.threshold("bob")
    0.405
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from tokenomy.errors import ConfigError

__all__ = ["ErrorBound"]

BINS: Final = 200  # score resolution: thresholds are multiples of 1/BINS
_NEVER: Final = 1.0 + 1e-9  # a threshold no score reaches


def _bin(score: float) -> int:
    return min(BINS - 1, max(0, int(score * BINS)))


@dataclass
class _Counts:
    served: list[float] = field(default_factory=lambda: [0.0] * BINS)
    wrong: list[float] = field(default_factory=lambda: [0.0] * BINS)
    verified: int = 0
    reported_wrong: int = 0
    hits: int = 0


class ErrorBound:
    """Per-scope thresholds that keep the estimated wrong-hit share under ``max_error``.

    Args:
        max_error: the largest share of semantic hits that may be wrong, in (0, 1).
        scores: calibration scores (the verifier's, for pairs it would consider).
        same: for each score, whether the pair was a paraphrase (a right hit).
        floor: never go below this threshold (the verifier's own, by default 0).
    """

    def __init__(
        self,
        max_error: float,
        *,
        scores: Sequence[float],
        same: Sequence[bool],
        floor: float = 0.0,
    ) -> None:
        if not 0.0 < max_error < 1.0:
            raise ConfigError(
                f"max_error is a share of wrong hits in (0, 1), e.g. 0.01; got {max_error!r}."
            )
        if len(scores) != len(same):
            raise ConfigError(f"{len(scores)} calibration scores but {len(same)} labels.")
        self.max_error = max_error
        self.floor = floor
        self._prior = _Counts()
        for s, ok in zip(scores, same, strict=True):
            self._prior.served[_bin(s)] += 1.0
            self._prior.wrong[_bin(s)] += 0.0 if ok else 1.0
        self._scopes: dict[str, _Counts] = {}
        self._cache: dict[str, float] = {}
        self._lock = threading.Lock()

    def threshold(self, scope: str) -> float:
        """The score a semantic hit in ``scope`` must reach now."""
        with self._lock:
            cached = self._cache.get(scope)
            if cached is None:
                cached = self._cache[scope] = self._solve(self._scopes.get(scope))
            return cached

    def _solve(self, counts: _Counts | None) -> float:
        """The higher of two thresholds: the lowest at which the calibration and the
        scope's outcomes together pass, and the lowest at which the scope's own
        outcomes alone pass (so evidence of wrong hits in a scope is never diluted by
        the calibration)."""
        served = wrong = own_served = own_wrong = 0.0
        pooled = own = _NEVER
        # sweep from the top score down: served and wrong above each threshold
        for k in range(BINS - 1, -1, -1):
            own_served += counts.served[k] if counts else 0.0
            own_wrong += counts.wrong[k] if counts else 0.0
            served += self._prior.served[k] + (counts.served[k] if counts else 0.0)
            wrong += self._prior.wrong[k] + (counts.wrong[k] if counts else 0.0)
            if k / BINS < self.floor:
                break
            if served and self._passes(wrong, served):
                pooled = k / BINS
            if not own_wrong or (own_wrong + 0.5) / (own_served + 1.0) <= self.max_error:
                own = k / BINS
        return max(pooled, own)

    def _passes(self, wrong: float, served: float) -> bool:
        p = (wrong + 0.5) / (served + 1.0)
        return p + math.sqrt(p * (1.0 - p) / (served + 2.0)) <= self.max_error

    def estimate(self, scope: str) -> float:
        """The estimated share of wrong semantic hits in ``scope`` at its threshold:
        the pooled estimate, or the scope's own share if higher."""
        t = self.threshold(scope)
        with self._lock:
            c = self._scopes.get(scope) or _Counts()
            start = _bin(min(t, 1.0))
            own_served, own_wrong = sum(c.served[start:]), sum(c.wrong[start:])
            served = sum(self._prior.served[start:]) + own_served
            wrong = sum(self._prior.wrong[start:]) + own_wrong
        pooled = (wrong + 0.5) / (served + 1.0)
        return max(pooled, own_wrong / own_served if own_served else 0.0)

    def served(self, scope: str, score: float) -> None:
        """Count a served semantic hit (right unless reported wrong)."""
        with self._lock:
            c = self._scopes.setdefault(scope, _Counts())
            c.served[_bin(score)] += 1.0
            c.hits += 1
            self._cache.pop(scope, None)

    def record(self, scope: str, score: float, *, correct: bool, verified: bool = False) -> None:
        """Learn the outcome of a served hit: a wrong one raises the scope's threshold."""
        with self._lock:
            c = self._scopes.setdefault(scope, _Counts())
            if verified:
                c.verified += 1
            if not correct:
                c.wrong[_bin(score)] += 1.0
                c.reported_wrong += 1
                if c.served[_bin(score)] < c.wrong[_bin(score)]:
                    c.served[_bin(score)] += 1.0  # reported before it was counted served
            self._cache.pop(scope, None)

    def summary(self) -> dict[str, float]:
        """``{scope: estimated wrong-hit share}`` for every scope seen (``""``: no scope)."""
        with self._lock:
            scopes = list(self._scopes) or [""]
        return {s: round(self.estimate(s), 6) for s in scopes}
