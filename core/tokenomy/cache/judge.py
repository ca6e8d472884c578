"""The semantic cache's hit decision: verifier, guards, error bound, and hit outcomes.

:class:`HitJudge` decides whether a cached question may answer a new one, counts each
refusal under its reason, and remembers recent semantic hits by id, so that
:meth:`~tokenomy.cache.SemanticCache.feedback` can tell the error bound which of them
were wrong.

Verifiers by name (:data:`VERIFIERS`): ``"diff"`` (the default; the difference-aware
:class:`~tokenomy.cache.diff_verifier.DiffVerifier`) and ``"qqp"`` (the earlier
default: boosted trees fitted on Quora Question Pairs behind the hard guards of
:mod:`tokenomy.cache.guards`).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from tokenomy.cache.diff_verifier import DiffVerifier
from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    from tokenomy.cache.error_bound import ErrorBound
    from tokenomy.cache.stats import _Counters

__all__ = ["VERIFIERS", "HitJudge", "VerifierName", "resolve_verifier"]

VerifierName = Literal["default", "diff", "qqp"]


def _qqp() -> Any:
    from tokenomy.cache.verifier import PairVerifier

    return PairVerifier.default()


VERIFIERS: Final[dict[str, Callable[[], Any]]] = {
    "default": DiffVerifier.default,
    "diff": DiffVerifier.default,
    "qqp": _qqp,
}
"""Verifier names :class:`~tokenomy.cache.SemanticCache` accepts, and their builders."""

_REMEMBERED: Final = 10_000  # recent semantic hits feedback can name


def resolve_verifier(verifier: Any) -> Any:
    """A verifier object for a name in :data:`VERIFIERS`, an object, or None."""
    if isinstance(verifier, str):
        try:
            return VERIFIERS[verifier]()
        except KeyError:
            raise ConfigError(
                f"Unknown verifier {verifier!r}; valid names are {sorted(VERIFIERS)}, or pass "
                "a DiffVerifier / PairVerifier object, or None for the similarity alone."
            ) from None
    return verifier


class HitJudge:
    """Accepts or refuses semantic candidates for one cache.

    Args:
        verifier: a DiffVerifier, a PairVerifier or None.
        guards: apply the hard guards in front of a PairVerifier or of no verifier.
        counters: the cache's counters (refusals go to ``rejected``).
        max_error: the wrong-hit share to keep under, per scope (None: no bound). It
            only tightens the verifier's own threshold, never loosens it.
    """

    def __init__(
        self, verifier: Any, *, guards: bool, counters: _Counters, max_error: float | None
    ) -> None:
        self.verifier = verifier
        self.guards = guards
        self._counters = counters
        self.bound: ErrorBound | None = None
        if max_error is not None:
            self.bound = _bound(verifier, max_error)
        self._hits: OrderedDict[str, tuple[str, float, str]] = OrderedDict()
        self._vetoed: OrderedDict[str, None] = OrderedDict()  # "scope|query|entry" reported wrong
        self._lock = threading.Lock()

    def verify(
        self, query: str, cached: str, q_vec: Any, c_vec: Any, scope: str, entry_id: str = ""
    ) -> float | None:
        """The pair's score if it may be served, else None (the refusal is counted)."""
        if self._vetoed and _pair(scope, query, entry_id) in self._vetoed:
            self._counters.count("rejected", "reported wrong")
            return None
        v = self.verifier
        if isinstance(v, DiffVerifier):
            limit = self.bound.threshold(scope) if self.bound is not None else None
            verdict = v.check(query, cached, q_vec, c_vec, threshold=limit)
            if not verdict.ok:
                self._counters.count("rejected", verdict.reason or "content_words")
                return None
            return verdict.score
        if self.guards:
            from tokenomy.cache.guards import check_pair

            result = check_pair(query, cached)
            if not result.ok:
                self._counters.count("rejected", (result.reason or "guard").split(":")[0])
                return None
        if v is None:
            return 1.0
        score = float(v.score(query, cached, q_vec, c_vec))
        limit = v.threshold
        if self.bound is not None:
            limit = max(limit, self.bound.threshold(scope))
        if score < limit:
            self._counters.count("rejected", "verifier")
            return None
        return score

    def served(self, scope: str, score: float, query: str = "", entry_id: str = "") -> str:
        """Remember a served semantic hit; returns its id for feedback."""
        hit_id = secrets.token_hex(8)
        with self._lock:
            self._hits[hit_id] = (scope, score, _pair(scope, query, entry_id))
            while len(self._hits) > _REMEMBERED:
                self._hits.popitem(last=False)
        if self.bound is not None:
            self.bound.served(scope, score)
        return hit_id

    def feedback(self, hit_id: str, *, correct: bool, verified: bool = False) -> bool:
        """Learn a hit's outcome; False when the id is unknown (too old, or exact)."""
        with self._lock:
            found = self._hits.get(hit_id)
        if found is None:
            self._counters.count("feedback", "unknown hit id")
            return False
        self._counters.count("feedback", "correct" if correct else "wrong")
        if not correct:  # never serve this entry for this question again
            with self._lock:
                self._vetoed[found[2]] = None
                while len(self._vetoed) > _REMEMBERED:
                    self._vetoed.popitem(last=False)
        if self.bound is not None:
            self.bound.record(found[0], found[1], correct=correct, verified=verified)
        return True


def _pair(scope: str, query: str, entry_id: str) -> str:
    return f"{scope}|{' '.join(query.lower().split())}|{entry_id}"


def _bound(verifier: Any, max_error: float) -> ErrorBound:
    from tokenomy.cache.error_bound import ErrorBound

    calibration = getattr(verifier, "calibration", None) or {}
    if not calibration.get("scores"):
        raise ConfigError(
            "max_error needs a verifier with a calibration (the default 'diff' verifier "
            f"ships one); got {type(verifier).__name__}. Use verifier='diff'."
        )
    return ErrorBound(
        max_error,
        scores=calibration["scores"],
        same=calibration["same"],
        floor=float(verifier.threshold),
    )
