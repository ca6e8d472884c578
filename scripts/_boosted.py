"""Export a fitted scikit-learn HistGradientBoostingClassifier as the plain node lists
:mod:`tokenomy._trees` scores (no pickle shipped)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def sig(value: float) -> float:
    return float(f"{value:.7g}")


def export_trees(model: Any, features: Sequence[str]) -> dict[str, Any]:
    """``{"features", "base", "trees"}`` from sklearn's trees (``_predictors``,
    ``_baseline_prediction``: private but plain arrays), leaves marked by feature -1.
    Split values keep full precision: sklearn's thresholds can equal data values."""
    trees: dict[str, list[list[float]]] = {
        k: [] for k in ("split_feature", "split_value", "left", "right", "leaf_value")
    }
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees["split_feature"].append(np.where(leaf, -1, nodes["feature_idx"]).tolist())
        trees["split_value"].append(
            [0.0 if f else float(v) for f, v in zip(leaf, nodes["num_threshold"], strict=True)]
        )
        trees["left"].append(np.where(leaf, 0, nodes["left"]).tolist())
        trees["right"].append(np.where(leaf, 0, nodes["right"]).tolist())
        trees["leaf_value"].append(
            [sig(v) if f else 0.0 for f, v in zip(leaf, nodes["value"], strict=True)]
        )
    return {
        "features": list(features),
        "base": sig(np.ravel(model._baseline_prediction)[0]),
        "trees": trees,
    }
