import sys
from pathlib import Path

import numpy as np
import pytest

from tokenomy._trees import Trees
from tokenomy.errors import ConfigError

ONE_SPLIT = {  # a <= 0.5 -> +1.0, else -1.0; then b <= 2 -> +0.25, else 0
    "features": ["a", "b"],
    "base": 0.5,
    "trees": {
        "split_feature": [[0, -1, -1], [1, -1, -1]],
        "split_value": [[0.5, 0.0, 0.0], [2.0, 0.0, 0.0]],
        "left": [[1, 0, 0], [1, 0, 0]],
        "right": [[2, 0, 0], [2, 0, 0]],
        "leaf_value": [[0.0, 1.0, -1.0], [0.0, 0.25, 0.0]],
    },
}


def test_logits_follow_the_splits():
    trees = Trees.from_dict(ONE_SPLIT)
    logits = trees.logits([[0.0, 0.0], [1.0, 0.0], [0.5, 3.0], [0.9, 3.0]])
    assert logits.tolist() == [1.75, -0.25, 1.5, -0.5]
    assert trees.probabilities([[0.0, 0.0]])[0] == pytest.approx(1 / (1 + np.exp(-1.75)))


def test_trees_of_different_sizes_are_padded():
    data = {
        "features": ["a"],
        "base": 0.0,
        "trees": {
            "split_feature": [[0, -1, -1], [-1]],
            "split_value": [[0.0, 0.0, 0.0], [0.0]],
            "left": [[1, 0, 0], [0]],
            "right": [[2, 0, 0], [0]],
            "leaf_value": [[0.0, 2.0, 3.0], [0.5]],
        },
    }
    assert Trees.from_dict(data).logits([[-1.0], [1.0]]).tolist() == [2.5, 3.5]


def test_columns_are_taken_by_name_and_missing_ones_are_named():
    trees = Trees.from_dict(ONE_SPLIT)
    matrix = trees.columns({"b": np.array([3.0]), "a": np.array([0.9]), "c": np.array([7.0])})
    assert matrix.tolist() == [[0.9, 3.0]]
    with pytest.raises(ConfigError, match=r"\['b'\]"):
        trees.columns({"a": np.array([1.0])})


def test_bad_layouts_are_refused():
    with pytest.raises(ConfigError, match="Malformed"):
        Trees.from_dict({"features": ["a"], "base": 0.0})
    beyond = {**ONE_SPLIT, "features": ["a"]}
    with pytest.raises(ConfigError, match="beyond"):
        Trees.from_dict(beyond)
    cycle = {**ONE_SPLIT, "trees": {**ONE_SPLIT["trees"], "left": [[0, 0, 0], [1, 0, 0]]}}
    with pytest.raises(ConfigError, match="cycle"):
        Trees.from_dict(cycle)
    with pytest.raises(ConfigError, match="expect 2"):
        Trees.from_dict(ONE_SPLIT).logits([[1.0, 2.0, 3.0]])


def test_exported_sklearn_trees_score_like_sklearn():
    ensemble = pytest.importorskip("sklearn.ensemble")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from _boosted import export_trees

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0.3).astype(int)
    model = ensemble.HistGradientBoostingClassifier(max_iter=30, max_depth=3).fit(x, y)
    trees = Trees.from_dict(export_trees(model, ["a", "b", "c", "d"]))
    assert np.allclose(trees.logits(x), model.decision_function(x), atol=1e-5)
