"""What a router has learned: the fitted history, outcomes added online, persistence."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenomy.errors import ConfigError
from tokenomy.route.features import FEATURE_NAMES
from tokenomy.route.prior import TierPrior


@dataclass
class Memory:
    """Outcomes added with ``update`` before any ``fit``: vectors, outcomes (NaN where
    unknown) and the prior's prediction at each, per model of the table."""

    h: list[Any]
    y: list[list[float]]
    base: list[list[float]]
    _stacked: tuple[Any, Any] | None = None

    def add(self, vector: Any, outcomes: list[float], base: list[float]) -> None:
        self.h.append(vector)
        self.y.append(outcomes)
        self.base.append(base)
        self._stacked = None

    def arrays(self) -> tuple[Any, Any]:
        """(vectors, outcome minus prior) as arrays, stacked once per batch of updates."""
        import numpy as np

        if self._stacked is None:
            residuals = np.asarray(self.y, dtype=np.float64) - np.asarray(self.base)
            self._stacked = (np.asarray(self.h, dtype=np.float32), residuals)
        return self._stacked


@functools.lru_cache(maxsize=8)
def features_only(prior: TierPrior) -> TierPrior:
    """The prior without its embedding terms (an embedder other than the one it was
    fitted with): its features-only fit when it ships one, else its feature and bias
    terms with the family terms at their mean."""
    if prior.fallback is not None:
        return prior.fallback
    n = len(prior.mean)
    fam = len(prior.families)
    d = len(prior.u)
    emb = d - n - fam - 1

    def cut(w: tuple[float, ...]) -> tuple[float, ...]:
        family_mean = sum(w[n + emb : n + emb + fam]) / max(fam, 1)
        return (*w[:n], w[-1] + family_mean)

    return TierPrior(
        prior.reference,
        prior.mean,
        prior.std,
        cut(prior.u),
        cut(prior.v),
        knn_strength=prior.knn_strength,
        drop_ratio=prior.drop_ratio,
    )


@dataclass
class Fitted:
    names: list[str]
    h: Any
    y: Any
    mean: Any
    std: Any
    weights: dict[str, Any]
    embedder: str


def save_fitted(f: Fitted, path: str | Path) -> None:
    """Write a fitted router's state to ``path`` (``.npz``, no pickle)."""
    import numpy as np

    meta = {"names": f.names, "embedder": f.embedder, "features": list(FEATURE_NAMES)}
    np.savez_compressed(
        Path(path),
        h=f.h,
        y=f.y,
        mean=f.mean,
        std=f.std,
        weights=np.stack([f.weights[n] for n in f.names]),
        meta=np.array(json.dumps(meta)),
    )


def load_fitted(path: str | Path, names: Sequence[str], embedder: str) -> Fitted:
    """Read :func:`save_fitted`'s file for a router of models ``names`` and ``embedder``."""
    import numpy as np

    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta["features"] != list(FEATURE_NAMES):
            raise ConfigError(f"{path} was fitted with other features; fit again.")
        if meta["embedder"] != embedder:
            raise ConfigError(
                f"{path} was fitted with embedder {meta['embedder']!r}, this router "
                f"uses {embedder!r}; pass the same embedder or fit again."
            )
        missing = set(meta["names"]) - set(names)
        if missing:
            raise ConfigError(f"{path} has models not in this table: {sorted(missing)}.")
        weights = dict(zip(meta["names"], data["weights"], strict=True))
        return Fitted(
            meta["names"], data["h"], data["y"], data["mean"], data["std"], weights, embedder
        )
