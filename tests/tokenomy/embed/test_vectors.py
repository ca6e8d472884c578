import numpy as np
import pytest

from tokenomy.embed.vectors import VectorGroup
from tokenomy.errors import ConfigError


def unit(rng, n, dim=16):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("threshold", [10_000, 20])  # scan only; HNSW past 20 vectors
def test_search_add_replace_remove_agree_with_brute_force(threshold):
    rng = np.random.default_rng(1)
    group = VectorGroup(16, ann_threshold=threshold)
    vectors = {f"v{i}": v for i, v in enumerate(unit(rng, 60))}
    for key, v in vectors.items():
        group.add(key, v)
    for key in ["v3", "v10", "v11", "v40"]:
        group.remove(key)
        del vectors[key]
    vectors["v5"] = unit(rng, 1)[0]
    group.add("v5", vectors["v5"])  # replace
    group.add_many(["w1", "w2"], unit(rng, 2))
    vectors.update({"w1": group._matrix[group._rows["w1"]], "w2": group._matrix[group._rows["w2"]]})
    assert len(group) == len(vectors)
    keys = list(vectors)
    matrix = np.stack([vectors[k] for k in keys])
    for q in unit(rng, 30):
        expected = keys[int(np.argmax(matrix @ q))]
        found = group.search(q, 3)
        assert found[0][0] == expected
        assert found[0][1] == pytest.approx(float(np.max(matrix @ q)), abs=1e-5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        assert all(k in vectors for k, _ in found)


def test_hnsw_rebuilds_after_many_removals_and_drops_below_threshold():
    rng = np.random.default_rng(2)
    group = VectorGroup(16, ann_threshold=20)
    vecs = unit(rng, 100)
    for i, v in enumerate(vecs):
        group.add(str(i), v)
    assert group._ann is not None
    for i in range(90):
        group.remove(str(i))
    assert len(group) == 10 and group._ann is None  # back to scanning
    assert group.search(vecs[95], 1)[0][0] == "95"


def test_bad_vectors_are_rejected():
    group = VectorGroup(4)
    with pytest.raises(ConfigError, match="dimensions"):
        group.add("x", np.ones(5))
    with pytest.raises(ConfigError, match="dim"):
        VectorGroup(0)
    assert group.search(np.ones(4), 3) == []
