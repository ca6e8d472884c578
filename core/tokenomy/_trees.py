"""Gradient-boosted trees shipped as plain numbers, scored with numpy.

Fitted models (the cache's pair verifier, the compressor's segment scorer) are
scikit-learn ``HistGradientBoostingClassifier`` ensembles exported by the scripts in
``scripts/`` as per-tree node lists: tree ``t`` at node ``k`` goes to ``left[t, k]``
when ``x[split_feature[t, k]] <= split_value[t, k]``, else to ``right[t, k]``;
``split_feature`` is -1 at leaves, whose ``leaf_value`` is the log-odds they add. No
pickle and no scikit-learn at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Trees", "padded"]

_CHUNK: Final = 4096  # rows scored at once, to bound memory
_ARRAYS: Final = ("split_feature", "split_value", "left", "right", "leaf_value")


def padded(trees: dict[str, list[list[float]]]) -> dict[str, np.ndarray]:
    """The JSON node lists as (trees, nodes) arrays, shorter trees padded with leaves.

    Raises:
        KeyError, TypeError, ValueError: for a malformed layout (callers wrap these in
            a :class:`~tokenomy.errors.ConfigError` naming their file).
    """
    import numpy as np

    width = max(len(t) for t in trees["split_feature"])
    fills = {"split_feature": -1, "split_value": 0.0, "left": 0, "right": 0, "leaf_value": 0.0}
    out = {}
    for name in _ARRAYS:
        dtype = np.float64 if name in ("split_value", "leaf_value") else np.intp
        rows = trees[name]
        out[name] = np.array([r + [fills[name]] * (width - len(r)) for r in rows], dtype=dtype)
    return out


@dataclass(frozen=True)
class Trees:
    """A boosted tree ensemble over named features (see the module docstring).

    Attributes:
        features: the feature names, in column order.
        base: log-odds before the trees.
        split_feature, split_value, left, right, leaf_value: (trees, nodes) arrays.
    """

    features: tuple[str, ...]
    base: float
    split_feature: np.ndarray
    split_value: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_value: np.ndarray
    _flat: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import numpy as np

        shapes = {getattr(self, name).shape for name in _ARRAYS}
        if len(shapes) != 1 or self.split_feature.ndim != 2:
            raise ConfigError("Tree arrays must all have one (trees, nodes) shape.")
        if int(self.split_feature.max(initial=-1)) >= len(self.features):
            raise ConfigError(f"A tree splits on a feature beyond the {len(self.features)} named.")
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
    def from_dict(cls, data: dict[str, Any]) -> Trees:
        """From ``{"features": [...], "base": x, "trees": {node lists}}``.

        Raises:
            ConfigError: for a malformed layout.
        """
        try:
            return cls(tuple(data["features"]), float(data["base"]), **padded(data["trees"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"Malformed tree weights: {exc!r}.") from exc

    def logits(self, features: Any) -> np.ndarray:
        """Log-odds for each row of ``features`` (columns in :attr:`features` order)."""
        import numpy as np

        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ConfigError(f"Got {x.shape[1]} features; the trees expect {len(self.features)}.")
        flat, out = self._flat, np.empty(x.shape[0])
        for start in range(0, x.shape[0], _CHUNK):
            rows = x[start : start + _CHUNK]
            at = np.arange(rows.shape[0])[:, None]
            node = np.broadcast_to(flat["start"], (rows.shape[0], flat["start"].size))
            for _ in range(flat["depth"]):
                go_right = rows[at, flat["feature"][node]] > flat["split"][node]
                node = flat["children"][2 * node + go_right]
            out[start : start + _CHUNK] = self.base + flat["value"][node].sum(axis=1)
        return out

    def probabilities(self, features: Any) -> np.ndarray:
        """:meth:`logits` through the logistic function, in [0, 1]."""
        import numpy as np

        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(self.logits(features), -60.0, 60.0)))
        return out

    def columns(self, named: dict[str, Any]) -> np.ndarray:
        """The (rows, features) matrix of ``named`` columns in :attr:`features` order.

        Raises:
            ConfigError: when a feature the trees need is missing.
        """
        import numpy as np

        missing = [name for name in self.features if name not in named]
        if missing:
            raise ConfigError(f"The trees need features that were not computed: {missing}.")
        return np.column_stack([named[name] for name in self.features])


def _max_depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    deepest = 0
    for t in range(leaf.shape[0]):
        stack = [(0, 0)]
        while stack:
            k, d = stack.pop()
            if d > leaf.shape[1]:
                raise ConfigError(f"Tree {t} has a cycle.")
            if leaf[t, k]:
                deepest = max(deepest, d)
            else:
                stack += [(int(left[t, k]), d + 1), (int(right[t, k]), d + 1)]
    return deepest
