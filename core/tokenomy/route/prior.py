"""The default router's prior: success by quality tier, fitted on public outcomes.

Before a router has seen any of your outcomes it predicts a model's success from
the model's quality tier (``ModelSpec.quality``, an MMLU-class accuracy) and the
prompt, with coefficients fitted on public per-prompt outcomes (RouteLLM's MMLU
correctness of Mixtral-8x7B and GPT-4, and MT-Bench judge scores of the same pair)
and shipped as JSON (numbers only, no prompts). For a model of quality ``q``::

    logit P(success) = logit(q) + u(x) + (logit(q) - ref) * v(x)

``u`` is the prompt's difficulty at the reference tier and ``v`` (at least -1, so
a higher tier never predicts worse) how much the gap between two tiers matters on
it; both are linear in the prompt's :func:`prior_features` (complexity, task-type
and format markers), a linear probe of its MiniLM embedding (its top principal
directions), and a soft per-family prior (similarity to each training family's
centroid). The shipped fit keeps ``v`` to the per-family prior (``gap_penalty``):
which features predict the stronger model's advantage flips between task families.
So the prior ranks prompts by the stronger model's predicted advantage for any pair
of models, scaled by the distance between their tiers.
``scripts/fit_default_router.py`` refits it; ``benchmarks/route_transfer.py``
measures it on task families it was not fitted on.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tokenomy.errors import ConfigError
from tokenomy.route.features import FEATURE_NAMES, complexity_features

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_PRIOR_PATH", "GAP_BLOCKS", "PRIOR_FEATURES", "TierPrior", "prior_features"]

DEFAULT_PRIOR_PATH: Final = Path(__file__).parent / "data" / "default_prior.json"

_MARKERS: Final = {
    "writing": r"\b(?:write|compose|draft|story|poem|essay|blog|email|letter|script|slogan)\w*",
    "roleplay": r"\b(?:pretend|imagine|act as|role|character|persona|you are)\b",
    "extraction": r"\b(?:extract|identify|summari[sz]e|list|json|table|format|return)\w*",
    "negation": r"\b(?:not|except|least|false|incorrect|never)\b",
    "blank": r"_{2,}|\bblank\b",
    "quote": r"[\"“”']",
    "instruction": r"^\s*(?:please\s+)?(?:write|give|tell|describe|create|suggest|help)\b",
}
_PATTERNS: Final = {k: re.compile(p, re.I | re.M) for k, p in _MARKERS.items()}
_OPTION: Final = re.compile(r"^\s*[A-D][.)]\s*(.*)$", re.M)

PRIOR_FEATURES: Final = (
    *FEATURE_NAMES,
    *(f"task_{k}" for k in _MARKERS),
    "option_words",
    "sentences",
)


GAP_BLOCKS: Final = ("features", "probe", "families")
"""The blocks of the prior's terms (besides the bias) whose ``v`` weights
:func:`fit_tier_prior` can penalise separately."""


def prior_features(text: str) -> list[float]:
    """The prompt's features for the prior, in :data:`PRIOR_FEATURES` order: the
    router's :func:`complexity_features` plus task-type and format markers."""
    return list(_prior_features(text))


@functools.lru_cache(maxsize=4096)
def _prior_features(text: str) -> tuple[float, ...]:
    options = _OPTION.findall(text)
    option_words = sum(len(o.split()) for o in options) / max(1, len(options))
    return (
        *complexity_features(text),
        *(math.log1p(len(p.findall(text))) for p in _PATTERNS.values()),
        math.log1p(option_words),
        math.log1p(len(re.findall(r"[.!?](?:\s|$)", text))),
    )


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class TierPrior:
    """Coefficients of the tier model (see the module docstring); numbers only.

    Attributes:
        reference: the logit of the reference tier.
        mean / std: feature standardisation.
        u / v: per term weights: standardised features, embedding probe (when
            fitted with one), family similarities, bias.
        centroids: one unit vector per training family (empty without embeddings).
        projection: the embedding's top principal directions the probe reads.
        families: the training families' names.
        embedder: the embedder the probe and centroids expect ("" : none).
        knn_strength: pseudo-count of the prior against labelled neighbours.
        drop_ratio: held-out (measured / predicted) quality drop, min and max over
            the fitting's leave-one-family-out folds: the audit's interval.
    """

    reference: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    u: tuple[float, ...]
    v: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...] = ()
    projection: tuple[tuple[float, ...], ...] = ()
    families: tuple[str, ...] = ()
    embedder: str = ""
    knn_strength: float = 8.0
    drop_ratio: tuple[float, float] = (0.5, 2.0)
    fitted_on: str = ""
    fallback: TierPrior | None = None

    @property
    def uses_embeddings(self) -> bool:
        return bool(self.embedder)

    @functools.cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        """The coefficients as arrays, built once."""
        import numpy as np

        return {
            k: np.array(getattr(self, k), dtype=np.float64)
            for k in ("mean", "std", "u", "v", "projection", "centroids")
        }

    def design(self, features: np.ndarray, vectors: np.ndarray | None) -> np.ndarray:
        """The design rows ``z`` of prompts (features: rows of :func:`prior_features`)."""
        import numpy as np

        a = self._arrays
        x = (np.asarray(features, dtype=np.float64) - a["mean"]) / a["std"]
        parts = [x]
        if self.uses_embeddings:
            if vectors is None:
                raise ConfigError("this prior needs the prompts' embeddings.")
            h = np.asarray(vectors, dtype=np.float64).reshape(len(x), -1)
            parts += [h @ a["projection"].T, _family_similarity(h, a["centroids"])]
        parts.append(np.ones((len(x), 1)))
        return np.column_stack(parts)

    def success(
        self, qualities: Sequence[float], features: np.ndarray, vectors: np.ndarray | None
    ) -> np.ndarray:
        """Predicted success, prompts x qualities."""
        import numpy as np

        z = self.design(features, vectors)
        # v >= -1: a higher tier is never predicted to do worse (the gap only shrinks)
        u, v = z @ self._arrays["u"], np.maximum(z @ self._arrays["v"], -1.0)
        tiers = np.array([_logit(q) for q in qualities])
        logits = tiers[None, :] + u[:, None] + (tiers[None, :] - self.reference) * v[:, None]
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        return out

    # -- persistence ---------------------------------------------------------------------

    def to_json(self) -> str:
        """The coefficients as JSON (six significant digits)."""
        return json.dumps(_rounded(self._plain()), separators=(",", ":"))

    def _plain(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["features"] = list(PRIOR_FEATURES)
        data["fallback"] = None if self.fallback is None else self.fallback._plain()
        return data

    @classmethod
    def from_json(cls, text: str) -> TierPrior:
        return cls._from_plain(json.loads(text))

    @classmethod
    def _from_plain(cls, data: dict[str, Any]) -> TierPrior:
        data = dict(data)
        if data.pop("features", None) != list(PRIOR_FEATURES):
            raise ConfigError("the prior was fitted with other features; refit it.")
        fallback = data.pop("fallback", None)
        fields: dict[str, Any] = {
            k: tuple(tuple(r) for r in v)
            if k in ("centroids", "projection")
            else (tuple(v) if isinstance(v, list) else v)
            for k, v in data.items()
        }
        return cls(
            **fields,
            fallback=None if fallback is None else cls._from_plain(fallback),
        )

    @classmethod
    def load(cls, path: str | Path) -> TierPrior:
        return cls.from_json(Path(path).read_text())

    @classmethod
    @functools.cache
    def default(cls) -> TierPrior:
        """The shipped prior (``default_prior.json``)."""
        return cls.load(DEFAULT_PRIOR_PATH)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _family_similarity(h: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Softmax (temperature 0.05) of cosine similarity to each family centroid."""
    import numpy as np

    if not len(centroids):
        return np.zeros((len(h), 0))
    s = h @ centroids.T / 0.05
    s -= s.max(axis=1, keepdims=True)
    e = np.exp(s)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def fit_tier_prior(
    texts: Sequence[str],
    families: Sequence[str],
    outcomes: Mapping[float, Sequence[float]],
    *,
    vectors: np.ndarray | None = None,
    embedder: str = "",
    l2: float = 3.0,
    gap_penalty: Mapping[str, float] | None = None,
    components: int = 64,
    equal_families: bool = False,
    fitted_on: str = "",
) -> TierPrior:
    """Fit the tier model on labelled prompts of several task families.

    Args:
        texts: the prompts.
        families: each prompt's task family (for the family similarity terms).
        outcomes: per quality tier (a model's MMLU-class accuracy), one outcome in
            [0, 1] per prompt.
        vectors: the prompts' unit embeddings (None: features only).
        embedder: the name of the embedder that made ``vectors``.
        l2: ridge penalty on every weight but the biases.
        gap_penalty: ridge penalty per block of ``v``'s weights (:data:`GAP_BLOCKS`:
            "features", "probe", "families"; default ``l2``); ``math.inf`` leaves a
            block out of ``v`` (its weights stay 0), so the gap between tiers reads
            only the blocks that carry across task families.
        components: principal directions of the embeddings the probe reads.
        equal_families: weigh each family the same in total (default: each prompt).
        fitted_on: a note of the data, kept in the JSON.
    """
    import numpy as np

    unknown = set(gap_penalty or {}) - set(GAP_BLOCKS)
    if unknown:
        raise ConfigError(f"gap_penalty blocks are {GAP_BLOCKS}, not {sorted(unknown)}.")
    feats = np.array([prior_features(t) for t in texts], dtype=np.float64)
    mean, std = feats.mean(axis=0), feats.std(axis=0) + 1e-6
    names = sorted(set(families))
    fam = np.array([names.index(f) for f in families])
    centroids: tuple[tuple[float, ...], ...] = ()
    projection: tuple[tuple[float, ...], ...] = ()
    if vectors is not None:
        h = np.asarray(vectors, dtype=np.float64)
        c = np.array([h[fam == k].mean(axis=0) for k in range(len(names))])
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        centroids = tuple(tuple(float(x) for x in row) for row in c)
        top = np.linalg.svd(h - h.mean(axis=0), full_matrices=False)[2][:components]
        projection = tuple(tuple(float(x) for x in row) for row in top)
    tiers = sorted(outcomes)
    reference = float(np.mean([_logit(q) for q in tiers]))
    shell = TierPrior(
        reference,
        tuple(mean),
        tuple(std),
        (),
        (),
        centroids,
        projection,
        tuple(names),
        embedder if vectors is not None else "",
    )
    z = shell.design(feats, vectors)
    counts = np.bincount(fam)
    weight = (len(fam) / len(names)) / counts[fam] if equal_families else np.ones(len(fam))
    rows, ys, offsets, ws = [], [], [], []
    for q in tiers:
        t = _logit(q)
        rows.append(np.column_stack([z, (t - reference) * z]))
        ys.append(np.asarray(outcomes[q], dtype=np.float64))
        offsets.append(np.full(len(z), t))
        ws.append(weight)
    sizes = {"features": len(mean), "probe": len(projection), "families": len(centroids)}
    u_pen = np.concatenate([np.full(z.shape[1] - 1, l2), [0.0]])
    v_pen = np.concatenate(
        [np.full(n, (gap_penalty or {}).get(b, l2)) for b, n in sizes.items()] + [[0.0]]
    )
    w = _weighted_logistic(
        np.vstack(rows),
        np.concatenate(ys),
        np.concatenate(offsets),
        np.concatenate(ws),
        np.concatenate([u_pen, v_pen]),
    )
    d = z.shape[1]
    return TierPrior(
        reference,
        tuple(float(x) for x in mean),
        tuple(float(x) for x in std),
        tuple(float(x) for x in w[:d]),
        tuple(float(x) for x in w[d:]),
        centroids,
        projection,
        tuple(names),
        shell.embedder,
        fitted_on=fitted_on,
    )


def _weighted_logistic(
    x: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    weight: np.ndarray,
    penalty: np.ndarray,
    iterations: int = 30,
) -> np.ndarray:
    """Logistic regression with soft labels, an offset, row weights and a ridge
    penalty per column (``inf``: the column is left out, its weight 0), by Newton."""
    import numpy as np

    keep = np.isfinite(penalty)
    x, penalty = x[:, keep], penalty[keep]
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w + offset, -30, 30)))
        grad = x.T @ (weight * (p - y)) + penalty * w
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-5:
            break
    out = np.zeros(len(keep))
    out[keep] = w
    return out
