"""A learned check that a cached question really is the question being asked.

Cosine similarity alone cannot tell "How do I learn Python?" from "How do I learn
Java?". :class:`PairVerifier` scores a (query, candidate) pair from :data:`FEATURES`:
the cosine, word-overlap and mismatch signals of :mod:`tokenomy.cache.guards`, and the
element-wise product and absolute difference of the two MiniLM vectors. The model is
a gradient-boosted tree ensemble fitted on QQP by ``scripts/fit_cache_verifier.py``
and shipped as plain numbers in ``data/verifier.json`` (no QQP text ships). At
precision 0.90 on held-out QQP pairs it finds 30% more duplicates than a logistic
regression on the same features (recall 0.33 vs 0.25), hence trees, not a linear model.
:func:`calibrate` picks the threshold for your own labelled pairs.

Example:
    >>> import numpy as np
    >>> verifier = PairVerifier.default()
    >>> u = np.eye(384, dtype=np.float32)[0]
    >>> 0.0 <= verifier.score("What is 2+2?", "What is 2 + 2?", u, u) <= 1.0
    True
    >>> verifier.accepts("What is 2+2?", "What is 3+3?", u, u)  # the numbers guard
    False
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from tokenomy.cache.guards import analyze, check_pair, missing_entities, reversed_relation
from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.embed import Embedder

__all__ = [
    "FEATURES",
    "TEXT_FEATURES",
    "Calibration",
    "PairVerifier",
    "calibrate",
    "feature_names",
    "pair_features",
    "pair_features_batch",
]

TEXT_FEATURES: Final = (
    "cosine",  # dot product of the two unit vectors
    "content_jaccard",  # Jaccard of content tokens (guards.content_tokens)
    "token_jaccard",  # Jaccard of all lower-cased tokens
    "length_ratio",  # shorter / longer token count
    "extra_min",  # content tokens only one side has: the smaller side's count
    "extra_max",  # ... the larger side's count
    "numbers_differ",  # 1.0 when the number sets differ
    "negation_differs",  # 1.0 when exactly one text is negated
    "entities_missing",  # entities of either text that the other does not mention
    "qword_differs",  # 1.0 when the leading question words differ (what/how/why/...)
    "order_reversed",  # 1.0 when a relation is reversed (guards.reversed_relation)
)
"""Hand-made features, in order; :func:`feature_names` appends the embedding ones."""

_QWORD_TEXT: Final = (
    "what how why when where who whom whose which is are was were can could do does did "
    "should would will shall may might"
)
_QWORDS: Final = frozenset(_QWORD_TEXT.split())
_CHUNK: Final = 4096  # rows scored at once, to bound memory


def feature_names(dim: int) -> tuple[str, ...]:
    """:data:`TEXT_FEATURES`, then ``prod_0 .. prod_{dim-1}`` (``u * v``) and
    ``absdiff_0 .. absdiff_{dim-1}`` (``|u - v|``), for embeddings of ``dim`` components."""
    prod = tuple(f"prod_{i}" for i in range(dim))
    return TEXT_FEATURES + prod + tuple(f"absdiff_{i}" for i in range(dim))


FEATURES: Final = feature_names(384)
"""The features for all-MiniLM-L6-v2 (384-d): 11 text features + 768 embedding ones."""


def _qword(tokens: tuple[str, ...]) -> str:
    return tokens[0] if tokens and tokens[0] in _QWORDS else ""


def _text_features(query: str, candidate: str, cosine: float) -> list[float]:
    a, b = analyze(query), analyze(candidate)
    ta, tb = set(a.tokens), set(b.tokens)
    only_a, only_b = len(a.content - b.content), len(b.content - a.content)
    content_union, token_union = len(a.content | b.content), len(ta | tb)
    longer = max(len(a.tokens), len(b.tokens))
    return [
        cosine,
        len(a.content & b.content) / content_union if content_union else 1.0,
        len(ta & tb) / token_union if token_union else 1.0,
        min(len(a.tokens), len(b.tokens)) / longer if longer else 1.0,
        float(min(only_a, only_b)),
        float(max(only_a, only_b)),
        float(a.numbers != b.numbers),
        float(a.negated != b.negated),
        float(len(missing_entities(a, b)) + len(missing_entities(b, a))),
        float(_qword(a.tokens) != _qword(b.tokens)),
        float(reversed_relation(a, b) is not None),
    ]


def pair_features(query: str, candidate: str, q_vec: Any, c_vec: Any) -> np.ndarray:
    """The feature vector of one pair, named by :func:`feature_names`.

    Args:
        query: the incoming question.
        candidate: the cached question.
        q_vec: the unit embedding of ``query`` (1-D).
        c_vec: the unit embedding of ``candidate`` (1-D).

    Returns:
        A float64 array of length ``11 + 2 * dim``.
    """
    import numpy as np

    u = np.asarray(q_vec, dtype=np.float64).ravel()
    v = np.asarray(c_vec, dtype=np.float64).ravel()
    if u.shape != v.shape:
        raise ConfigError(f"q_vec {u.shape} and c_vec {v.shape} must have the same shape.")
    text = _text_features(query, candidate, float(u @ v))
    return np.concatenate((np.array(text), u * v, np.abs(u - v)))


def pair_features_batch(
    queries: Sequence[str], candidates: Sequence[str], q_vecs: Any, c_vecs: Any
) -> np.ndarray:
    """:func:`pair_features` for n pairs: an (n, 11 + 2 * dim) float64 array.

    ``q_vecs`` and ``c_vecs`` are (n, dim) unit vectors of ``queries`` and ``candidates``.
    """
    import numpy as np

    pairs = zip(queries, candidates, q_vecs, c_vecs, strict=True)
    rows = [pair_features(q, c, u, v) for q, c, u, v in pairs]
    return np.stack(rows) if rows else np.zeros((0, len(TEXT_FEATURES)))


@dataclass(frozen=True, eq=False)
class PairVerifier:
    """Frozen boosted trees that score "same question" for a (query, candidate) pair.

    ``score = sigmoid(base + sum of the leaf values the features reach, one per tree)``;
    tree ``t`` at node ``k`` goes to ``left[t, k]`` when ``x[split_feature[t, k]] <=
    split_value[t, k]``, else to ``right[t, k]``; ``split_feature`` is -1 at leaves.

    Attributes:
        features: the feature names, in order (see :func:`feature_names`).
        base: log-odds before the trees.
        split_feature: (trees, nodes) int array.
        split_value: (trees, nodes) float array.
        left: (trees, nodes) int array.
        right: (trees, nodes) int array.
        leaf_value: (trees, nodes) float array of log-odds added at each leaf.
        threshold: default decision threshold on :meth:`score`, a probability in [0, 1].
        min_similarity: cosine similarity in [0, 1] below which :meth:`accepts` refuses.
        model: the embedding model the trees were fitted for (an ``Embedder.name``).
    """

    features: tuple[str, ...]
    base: float
    split_feature: np.ndarray
    split_value: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_value: np.ndarray
    threshold: float
    min_similarity: float
    model: str = "sentence-transformers:all-MiniLM-L6-v2"
    _flat: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import numpy as np

        shapes = {a.shape for a in (self.split_feature, self.split_value, self.left, self.right)}
        if len(shapes | {self.leaf_value.shape}) != 1 or self.split_feature.ndim != 2:
            raise ConfigError("PairVerifier tree arrays must all have one (trees, nodes) shape.")
        if int(self.split_feature.max(initial=-1)) >= len(self.features):
            raise ConfigError(f"A tree splits on a feature beyond the {len(self.features)} named.")
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.min_similarity <= 1.0:
            raise ConfigError(
                f"threshold ({self.threshold!r}) and min_similarity ({self.min_similarity!r}) "
                "must be in [0, 1]."
            )
        # Flat copies for scoring: node k of tree t is t * width + k; a leaf's children are
        # itself, so every row can take the same number of steps (the deepest leaf's depth).
        trees, width = self.split_feature.shape
        offset = (np.arange(trees) * width)[:, None]
        leaf = self.split_feature < 0
        me = offset + np.arange(width)
        children = np.stack(
            [np.where(leaf, me, offset + self.left), np.where(leaf, me, offset + self.right)], -1
        )
        flat = {
            "feature": np.where(leaf, 0, self.split_feature).ravel(),
            "split": np.where(leaf, np.inf, self.split_value).ravel(),
            "children": children.reshape(-1),
            "value": np.where(leaf, self.leaf_value, 0.0).ravel(),
            "start": offset.ravel(),
            "depth": _max_depth(self.left, self.right, leaf),
        }
        object.__setattr__(self, "_flat", flat)

    @classmethod
    def default(cls) -> PairVerifier:
        """The verifier fitted on QQP for all-MiniLM-L6-v2 (``data/verifier.json``)."""
        if not _DEFAULT:
            path = resources.files("tokenomy.cache").joinpath("data/verifier.json")
            _DEFAULT.append(cls.from_dict(json.loads(path.read_text("utf-8"))))
        return _DEFAULT[0]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairVerifier:
        """Build a verifier from the ``verifier.json`` layout (extra keys are ignored)."""
        import numpy as np

        try:
            trees = data["trees"]
            width = max(len(t) for t in trees["split_feature"])

            def pad(rows: list[list[float]], fill: float, dtype: Any) -> np.ndarray:
                return np.array([r + [fill] * (width - len(r)) for r in rows], dtype=dtype)

            return cls(
                features=tuple(data["features"]),
                base=float(data["base"]),
                split_feature=pad(trees["split_feature"], -1, np.intp),
                split_value=pad(trees["split_value"], 0.0, np.float64),
                left=pad(trees["left"], 0, np.intp),
                right=pad(trees["right"], 0, np.intp),
                leaf_value=pad(trees["leaf_value"], 0.0, np.float64),
                threshold=float(data["threshold"]),
                min_similarity=float(data["min_similarity"]),
                model=str(data.get("model", cls.model)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"Malformed verifier weights: {exc!r}.") from exc

    def with_threshold(self, threshold: float) -> PairVerifier:
        """A copy deciding at ``threshold`` (e.g. ``calibrate(...).threshold``)."""
        return replace(self, threshold=threshold)

    def score_features(self, features: Any) -> np.ndarray:
        """Probabilities of "same question" for rows of :func:`pair_features_batch`."""
        import numpy as np

        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ConfigError(
                f"Got {x.shape[1]} features but the verifier expects {len(self.features)} "
                f"(fitted for {self.model!r} vectors). Embed with that model, or run the "
                "cache without a verifier (cosine floor and guards only)."
            )
        flat, out = self._flat, np.empty(x.shape[0])
        for start in range(0, x.shape[0], _CHUNK):
            rows = x[start : start + _CHUNK]
            at = np.arange(rows.shape[0])[:, None]
            node = np.broadcast_to(flat["start"], (rows.shape[0], flat["start"].size))
            for _ in range(flat["depth"]):
                go_right = rows[at, flat["feature"][node]] > flat["split"][node]
                node = flat["children"][2 * node + go_right]
            logit = self.base + flat["value"][node].sum(axis=1)
            out[start : start + _CHUNK] = 1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0)))
        return out

    def score(self, query: str, candidate: str, q_vec: Any, c_vec: Any) -> float:
        """Probability in [0, 1] that ``candidate`` asks the same as ``query``
        (``q_vec``/``c_vec``: their unit embeddings)."""
        x = pair_features(query, candidate, q_vec, c_vec)
        return float(self.score_features(x[None, :])[0])

    def accepts(
        self, query: str, candidate: str, q_vec: Any, c_vec: Any, *, threshold: float | None = None
    ) -> bool:
        """The whole hit decision: cosine >= :attr:`min_similarity`, the default guards of
        :func:`~tokenomy.cache.guards.check_pair` pass, and :meth:`score` >= ``threshold``
        (default :attr:`threshold`)."""
        import numpy as np

        cosine = float(np.dot(np.ravel(q_vec), np.ravel(c_vec)))
        if cosine < self.min_similarity or not check_pair(query, candidate).ok:
            return False
        limit = self.threshold if threshold is None else threshold
        return self.score(query, candidate, q_vec, c_vec) >= limit


_DEFAULT: list[PairVerifier] = []


def _max_depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    deepest = 0
    for t in range(leaf.shape[0]):
        stack = [(0, 0)]
        while stack:
            k, d = stack.pop()
            if d > leaf.shape[1]:
                raise ConfigError(f"Tree {t} of the verifier has a cycle.")
            if leaf[t, k]:
                deepest = max(deepest, d)
            else:
                stack += [(int(left[t, k]), d + 1), (int(right[t, k]), d + 1)]
    return deepest


@dataclass(frozen=True)
class Calibration:
    """The verifier threshold chosen by :func:`calibrate` and what it achieved.

    Attributes:
        threshold: the verifier threshold, a probability in [0, 1].
        precision: same-question pairs among accepted pairs, at ``threshold``.
        recall: accepted pairs among same-question pairs, at ``threshold``.
        n_pairs: labelled pairs used.
        n_positive: of which labelled "same question".
    """

    threshold: float
    precision: float
    recall: float
    n_pairs: int
    n_positive: int


def calibrate(
    pairs: Sequence[tuple[str, str, bool]],
    *,
    embedder: Embedder,
    target_precision: float = 0.95,
    verifier: PairVerifier | None = None,
    min_similarity: float | None = None,
) -> Calibration:
    """Pick the verifier threshold with the highest recall at ``target_precision``.

    A pair is accepted as in :meth:`PairVerifier.accepts`: cosine >= the floor, the
    guards pass, and the score >= the threshold.

    Args:
        pairs: your labelled pairs ``(text_a, text_b, is_same)``; both labels needed.
        embedder: the cache's embedding model (the shipped trees assume all-MiniLM-L6-v2).
        target_precision: the precision to reach, in (0, 1] (default 0.95).
        verifier: the verifier to calibrate (default :meth:`PairVerifier.default`).
        min_similarity: cosine similarity floor in [0, 1] (default: the verifier's).

    Returns:
        The :class:`Calibration`; apply it with ``verifier.with_threshold(cal.threshold)``.

    Raises:
        ConfigError: on empty input, a single class, a target outside (0, 1], or when
            no threshold reaches the target on these pairs.
    """
    import numpy as np

    if not 0.0 < target_precision <= 1.0:
        raise ConfigError(f"target_precision must be in (0, 1]; got {target_precision!r}.")
    if not pairs:
        raise ConfigError("calibrate needs labelled pairs (text_a, text_b, is_same); got none.")
    labels = np.array([bool(p[2]) for p in pairs])
    n_pos = int(labels.sum())
    if n_pos in (0, len(pairs)):
        have, need = ("same", "different") if n_pos else ("different", "same")
        raise ConfigError(
            f"All {len(pairs)} pairs are labelled {have!r} (is_same={bool(n_pos)}); add "
            f"{need!r}-question pairs too: precision and recall need both kinds."
        )
    verifier = verifier or PairVerifier.default()
    floor = verifier.min_similarity if min_similarity is None else min_similarity
    if not 0.0 <= floor <= 1.0:
        raise ConfigError(f"min_similarity is a cosine similarity in [0, 1]; got {floor!r}.")
    texts = sorted({t for p in pairs for t in p[:2]})
    index = {t: i for i, t in enumerate(texts)}
    vecs = embedder.embed(texts)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    feats = pair_features_batch(a, b, vecs[[index[t] for t in a]], vecs[[index[t] for t in b]])
    scores = verifier.score_features(feats)
    guards_ok = [check_pair(x, y).ok for x, y in zip(a, b, strict=True)]
    eligible = (feats[:, 0] >= floor) & np.array(guards_ok)
    order = np.argsort(-scores[eligible], kind="stable")
    ranked, true_hits = scores[eligible][order], np.cumsum(labels[eligible][order])
    # a threshold accepts all tied scores at once: evaluate at the last of each tie
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    precision = true_hits[ends] / (ends + 1)
    good = ends[precision >= target_precision]
    if not good.size:
        best = float(precision.max()) if precision.size else 0.0
        raise ConfigError(
            f"No threshold reaches precision {target_precision} on these {len(pairs)} pairs "
            f"(best {best:.3f}). Lower target_precision, raise min_similarity, or add pairs."
        )
    k = int(good.max())
    return Calibration(
        threshold=float(ranked[k]),
        precision=float(true_hits[k] / (k + 1)),
        recall=float(true_hits[k] / n_pos),
        n_pairs=len(pairs),
        n_positive=n_pos,
    )
