"""The router's numerics: logistic fits and similarity-weighted neighbour rates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PRIOR_WEIGHT = 2.0  # pseudo-neighbours at the model's mean success rate
L2 = 1.0


def design(x: np.ndarray, knn: np.ndarray) -> np.ndarray:
    import numpy as np

    logit = np.log(np.clip(knn, 1e-3, 1 - 1e-3) / np.clip(1 - knn, 1e-3, 1))
    return np.column_stack([x, logit, np.ones(len(x))])


def sigmoid(z: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    return out


def logistic(x: np.ndarray, y: np.ndarray, iterations: int = 25) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (the bias unpenalised)."""
    import numpy as np

    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = sigmoid(x @ w)
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w


def neighbour_rates(
    h: np.ndarray,
    y: np.ndarray,
    k: int,
    *,
    query: np.ndarray | None = None,
    leave_one_out: bool = False,
) -> np.ndarray:
    """Similarity-weighted success rate of each model among the k nearest labelled prompts."""
    import numpy as np

    prior = np.nanmean(y, axis=0)
    queries = h if query is None else np.asarray(query, dtype=np.float32).reshape(1, -1)
    out = np.empty((len(queries), y.shape[1]))
    k = min(k, len(h) - (1 if leave_one_out else 0))
    known = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    for start in range(0, len(queries), 1024):
        sims = queries[start : start + 1024] @ h.T
        if leave_one_out:
            rows = np.arange(start, min(start + 1024, len(queries)))
            sims[rows - start, rows] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None) ** 2
        hits = np.einsum("qk,qkm->qm", w, y0[top])
        seen = np.einsum("qk,qkm->qm", w, known[top].astype(np.float64))
        out[start : start + len(sims)] = (hits + PRIOR_WEIGHT * prior) / (seen + PRIOR_WEIGHT)
    return out


def residual_correction(
    h: np.ndarray,
    residuals: np.ndarray,
    k: int,
    query: np.ndarray,
    strength: float,
) -> np.ndarray:
    """Per model, how far the prior is off at ``query``, from the labelled outcomes'
    residuals (outcome minus the prior's prediction there; NaN where a model's
    outcome is unknown), in two parts, each shrunk by ``strength`` pseudo-outcomes:

    - the mean residual over every outcome: how far off the prior is on your
      traffic as a whole (a model that does worse on it than its tier says);
    - the closeness-weighted mean of the k nearest neighbours' residuals beyond that:
      near zero far from any outcome, the neighbours' verdict close to many.

    Without the first part, a whole workload the prior misjudges in the same
    direction would move each prompt by how many close neighbours it has rather
    than by what they say. Outcomes from one corner of the traffic still move the
    prompts there most (the first part is shrunk, the second adds the rest)."""
    import numpy as np

    count = (~np.isnan(residuals)).sum(axis=0)
    overall = np.nansum(residuals, axis=0) / (count + strength)
    k = min(k, len(h))
    sims = np.asarray(query, dtype=np.float32).reshape(1, -1) @ h.T
    top = np.argpartition(-sims[0], k - 1)[:k]
    w = np.clip(sims[0, top], 0.0, None) ** 2
    r = residuals[top] - overall
    known = ~np.isnan(r)
    total = (w[:, None] * np.nan_to_num(r)).sum(axis=0)
    seen = (w[:, None] * known).sum(axis=0)
    out: np.ndarray = overall + total / (seen + strength)
    return out
