"""Metrics of ``route_transfer.py``: APGR and its bootstrap interval, the GPT-4 share for
95% of GPT-4's performance, plain kNN, and the in-family reference (a router fitted by
cross-validation on the held-out family's own prompts: what the labels allow at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

BOOTSTRAP = 1000
"""Resamples of the held-out family's prompts for the APGR intervals."""


def curve(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Performance after sending the k highest-scored prompts to GPT-4, k = 0..n
    (prompts of equal score share their gain evenly)."""
    order = np.argsort(-score, kind="stable")
    gain = (strong - weak)[order].astype(float)
    _, group = np.unique(-score[order], return_inverse=True)
    gain = (np.bincount(group, weights=gain) / np.bincount(group))[group]
    return (weak.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / len(weak)


def apgr(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> float | None:
    """RouteLLM's average performance gap recovered (None without a gap)."""
    gap = strong.mean() - weak.mean()
    if gap <= 0:
        return None
    perf = curve(score, weak, strong)
    return float(np.trapezoid((perf - weak.mean()) / gap, dx=1 / len(weak)))


def metrics(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, float | None]:
    perf = curve(score, weak, strong)
    value = apgr(score, weak, strong)
    reach = np.nonzero(perf >= 0.95 * strong.mean() - 1e-12)[0]
    return {
        "apgr": None if value is None else round(value, 4),
        "gpt4_share_for_95pct": round(float(reach[0]) / len(weak), 4) if len(reach) else None,
    }


def bootstrap(
    scores: Mapping[str, np.ndarray],
    weak: np.ndarray,
    strong: np.ndarray,
    clusters: np.ndarray,
    reps: int = BOOTSTRAP,
    seed: int = 18,
) -> dict[str, Any]:
    """95% percentile intervals of each router's APGR, resampling the family's clusters
    (a prompt, or an MT-Bench question's two turns) with replacement; resamples without
    a gap between the models are skipped and counted. The same resamples for every
    router."""
    rng = np.random.default_rng(seed)
    ids = np.unique(clusters)
    members = [np.nonzero(clusters == c)[0] for c in ids]
    values: dict[str, list[float]] = {k: [] for k in scores}
    no_gap = 0
    for _ in range(reps):
        pick = np.concatenate([members[j] for j in rng.integers(len(ids), size=len(ids))])
        w, s = weak[pick], strong[pick]
        if s.mean() - w.mean() <= 1e-9:
            no_gap += 1
            continue
        for k, sc in scores.items():
            values[k].append(apgr(sc[pick], w, s) or 0.0)
    out: dict[str, Any] = {"resamples": reps, "without_a_gap": no_gap}
    for k, v in values.items():
        lo, hi = np.percentile(v, [2.5, 97.5]) if v else (np.nan, np.nan)
        out[k] = [round(float(lo), 3), round(float(hi), 3)]
    return out


def knn_scores(
    h_train: np.ndarray, d_train: np.ndarray, h_test: np.ndarray, k: int = 32
) -> np.ndarray:
    """GPT-4's minus Mixtral's mean outcome over the k nearest labelled prompts
    (cosine, squared-similarity weights)."""
    sims = h_test @ h_train.T
    k = min(k, len(h_train))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(sims, top, axis=1), 0, None) ** 2
    out: np.ndarray = (w * d_train[top]).sum(axis=1) / (w.sum(axis=1) + 1e-9)
    return out


def in_family(
    test: np.ndarray,
    clusters: np.ndarray,
    routers: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]],
    weak: np.ndarray,
    strong: np.ndarray,
    repeats: int = 3,
    seed: int = 18,
) -> dict[str, float | None]:
    """Mean APGR over ``repeats`` seeded 2-fold splits of the family's own prompts (by
    cluster): each half scored by a router fitted on the other half (``routers``:
    name -> (train rows, test rows) -> scores), then APGR over the whole family."""
    rng = np.random.default_rng(seed)
    ids = np.unique(clusters)
    out: dict[str, list[float]] = {k: [] for k in routers}
    for _ in range(repeats):
        half = np.isin(clusters, rng.permutation(ids)[: len(ids) // 2])
        for name, score in routers.items():
            sc = np.zeros(len(test))
            for side in (half, ~half):
                sc[side] = score(test[~side], test[side])
            value = apgr(sc, weak, strong)
            if value is not None:
                out[name].append(value)
    return {k: round(float(np.mean(v)), 4) if v else None for k, v in out.items()}
