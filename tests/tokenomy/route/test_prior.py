import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.route.prior import (
    DEFAULT_PRIOR_PATH,
    PRIOR_FEATURES,
    TierPrior,
    fit_tier_prior,
    prior_features,
)

SMALL = ModelSpec("small", 0.15, 0.6, quality=0.65)
LARGE = ModelSpec("large", 2.5, 10.0, quality=0.85)
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "workloads" / "sample.jsonl.gz"


def test_prior_features_are_named_and_finite():
    values = prior_features("Write a short poem.\nA. one\nB. two\nWhich is NOT true?")
    named = dict(zip(PRIOR_FEATURES, values, strict=True))
    assert named["task_writing"] > 0 and named["task_negation"] > 0 and named["choices"] == 1.0
    assert all(np.isfinite(values))


def test_the_shipped_prior_is_numbers_only_and_monotone_in_tier():
    text = DEFAULT_PRIOR_PATH.read_text()
    data = json.loads(text)
    assert set(data) >= {"u", "v", "mean", "std", "reference", "drop_ratio"}
    assert len(text) < 400_000  # coefficients, not data
    prior = TierPrior.default()
    assert TierPrior.from_json(prior.to_json()) == prior
    lo, hi = prior.drop_ratio
    assert 0 < lo <= hi
    prompts = [
        "What is the capital of France?",
        "Write a poem about the sea.",
        "Prove that there are infinitely many primes.",
        "A. 1\nB. 2\nC. 3\nD. 4\nWhat is 17 * 23 - 5?",
    ]
    feats = np.array([prior_features(p) for p in prompts])
    vecs = None
    if prior.uses_embeddings:
        rng = np.random.default_rng(0)
        vecs = rng.normal(size=(len(prompts), len(prior.centroids[0])))
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    p = prior.success([0.55, 0.68, 0.81, 0.9], feats, vecs)
    assert np.all(np.diff(p, axis=1) >= -1e-12)  # a higher tier never predicts worse
    assert np.all((p > 0) & (p < 1))


def test_fit_learns_which_prompts_the_weaker_tier_fails():
    rng = np.random.default_rng(1)
    texts, families, weak, strong = [], [], [], []
    for i in range(400):
        hard = i % 2 == 0
        texts.append(
            ("Calculate 12 * 7 + 3 = ? step by step, then derive and prove it. " if hard else "")
            + f"Tell me about item {rng.integers(1000)}."
        )
        families.append("a" if i < 200 else "b")
        weak.append(float(not hard and rng.random() < 0.9))
        strong.append(float(rng.random() < 0.9))
    prior = fit_tier_prior(texts, families, {0.6: weak, 0.8: strong})
    feats = np.array([prior_features(texts[0]), prior_features(texts[1])])
    p = prior.success([0.6, 0.8], feats, None)
    assert p[0, 1] - p[0, 0] > 0.3 > p[1, 1] - p[1, 0]  # the hard prompt gains from the tier
    with pytest.raises(ConfigError, match="other features"):
        TierPrior.from_json(json.dumps({**json.loads(prior.to_json()), "features": ["x"]}))


def test_unfitted_router_uses_the_default_and_does_not_send_everything_up():
    r = Router(
        ModelTable([SMALL, LARGE]), quality_target=None, tolerance=0.1, embedder=HashingEmbedder()
    )
    prompts = [
        "What is the capital of France?",
        "Translate 'good morning' into Spanish.",
        "Write a haiku about autumn leaves.",
        "Prove step by step that sqrt(2) is irrational and derive 3 * 7 + 2 = 23.",
    ]
    chosen = [r.route(p).model for p in prompts]
    assert "small" in chosen
    for p in prompts:
        s = r.predict(p)
        assert s["large"] >= s["small"]


def test_update_learns_online_without_a_refit():
    emb = HashingEmbedder()
    r = Router(ModelTable([SMALL, LARGE]), quality_target=None, embedder=emb)
    topic = "integral calculus derivative limit question"
    before = r.predict(f"{topic} 5")
    other_before = r.predict("poem about the sea and the moon")
    for i in range(30):
        r.update(f"{topic} {i}", "small", False)
        r.update(f"{topic} {i}", "large", True)
    after = r.predict(f"{topic} 5")
    assert r.outcomes_seen == 60 and not r.fitted
    assert after["small"] < before["small"] - 0.2
    assert after["large"] >= before["large"]
    other = r.predict("poem about the sea and the moon")
    assert abs(other["small"] - other_before["small"]) < abs(after["small"] - before["small"])
    with pytest.raises(ConfigError, match=r"outcome must be in \[0, 1\]"):
        r.update("x", "small", 3.0)
    with pytest.raises(ConfigError, match="no entry"):
        r.update("x", "medium", True)


def test_update_after_fit_joins_the_neighbours():
    emb = HashingEmbedder()
    prompts = [f"prompt number {i} about {'math' if i % 2 else 'poems'}" for i in range(40)]
    r = Router(ModelTable([SMALL, LARGE]), embedder=emb).fit(
        prompts, {"small": [True] * 40, "large": [True] * 40}
    )
    before = r.predict("a question about chemistry reactions")["small"]
    for i in range(40):
        r.update(f"a question about chemistry reactions {i}", "small", False)
    assert r.predict("a question about chemistry reactions")["small"] < before


def test_gap_penalty_leaves_blocks_out_of_the_tier_gap():
    rng = np.random.default_rng(2)
    texts = [
        f"Question {i}: {'compute 3 * 4 = ?' if i % 3 else 'write a poem'}" for i in range(120)
    ]
    families = ["a" if i < 60 else "b" for i in range(120)]
    vectors = rng.normal(size=(120, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    weak = [float(rng.random() < (0.3 if i < 60 else 0.8)) for i in range(120)]
    strong = [float(rng.random() < 0.9) for _ in range(120)]
    inf = float("inf")
    prior = fit_tier_prior(
        texts,
        families,
        {0.6: weak, 0.8: strong},
        vectors=vectors,
        embedder="test",
        components=4,
        gap_penalty={"features": inf, "probe": inf},
    )
    n_feat, n_probe = len(PRIOR_FEATURES), len(prior.projection)
    assert not np.any(prior.v[: n_feat + n_probe])  # left out of the gap
    assert np.any(prior.u[:n_feat]) and np.any(prior.v[n_feat + n_probe : -1])
    with pytest.raises(ConfigError, match="gap_penalty blocks"):
        fit_tier_prior(texts, families, {0.6: weak, 0.8: strong}, gap_penalty={"probes": 1.0})


def test_the_shipped_prior_reads_the_tier_gap_from_family_similarity_only():
    prior = TierPrior.default()
    n = len(PRIOR_FEATURES) + len(prior.projection)
    assert prior.uses_embeddings and len(prior.families) == 12
    assert not np.any(prior.v[:n]) and np.any(prior.v[n:-1])  # features/probe: difficulty only
    assert np.any(prior.u[:n])
    assert prior.fallback is not None and not prior.fallback.uses_embeddings
    lo, hi = prior.drop_ratio
    assert 1.0 <= lo <= hi < 20.0


def _sample_prompts(limit: int) -> list[str]:
    prompts: list[str] = []
    with gzip.open(SAMPLE, "rt") as f:
        for line in f:
            users = [m for m in json.loads(line)["messages"] if m["role"] == "user"]
            text = users[-1]["content"] if users else ""
            if isinstance(text, str) and text and text not in prompts:
                prompts.append(text)
            if len(prompts) == limit:
                break
    return prompts


def test_the_default_router_splits_the_bundled_sample_between_two_tiers():
    """The unfitted router with the real MiniLM on the sample's prompts: neither model
    gets everything, and the stronger tier is never predicted to do worse."""
    router = Router(
        ModelTable(
            [ModelSpec("mixtral", 0.6, 0.6, quality=0.68), ModelSpec("gpt-4", 10, 30, quality=0.81)]
        ),
        quality_target=None,
        tolerance=0.05,
    )
    prompts = _sample_prompts(120)
    chosen = [router.route(p).model for p in prompts]
    share = chosen.count("gpt-4") / len(chosen)
    assert len(prompts) >= 60 and 0.05 < share < 0.95
    for p in prompts[:20]:
        s = router.predict(p)
        assert s["gpt-4"] >= s["mixtral"]


def test_a_workload_the_prior_misjudges_everywhere_shifts_every_prompt_alike():
    from tokenomy.route._learn import residual_correction

    rng = np.random.default_rng(7)
    centre = rng.normal(size=32)
    dense = centre + 0.05 * rng.normal(size=(150, 32))  # 150 outcomes close together
    sparse = rng.normal(size=(50, 32))  # 50 scattered ones
    h = np.vstack([dense, sparse])
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    residuals = np.tile([-0.5, 0.3], (200, 1))  # the small model does worse everywhere
    near = residual_correction(h, residuals, 16, h[0], strength=8.0)
    alone = residual_correction(h, residuals, 16, h[180], strength=8.0)
    # both prompts move by about the workload's shift (200 outcomes against 8
    # pseudo-outcomes), not by how many close neighbours they happen to have
    np.testing.assert_allclose(near, alone, atol=0.02)
    np.testing.assert_allclose(alone, [-0.5 * 200 / 208, 0.3 * 200 / 208], atol=0.02)
    # where the neighbours disagree with the rest, their verdict still moves the prompt
    residuals[:150, 0] = -0.9
    near, alone = (residual_correction(h, residuals, 16, q, 8.0) for q in (h[0], h[180]))
    assert near[0] < alone[0] - 0.05
