"""Fit the semantic cache's difference-aware verifier on the contrast set's tuning half.

Command (from the repository root, with the local extra installed):
    python scripts/fit_diff_verifier.py [--show]

Reads benchmarks/data/cache_contrast.jsonl (scripts/build_contrast_set.py), embeds
every question with the bundled MiniLM, and, on the ``tune`` half only:

1. reads each pair's :func:`tokenomy.cache.differences.diff` (the named rules and the
   alignment features, with MiniLM word-piece similarity);
2. fits a logistic regression (scikit-learn, standardized features folded back into
   plain coefficients) on the pairs no rule refuses;
3. picks the threshold: the lowest one serving at most ``--max-minimal`` (default 1%)
   of the tuning half's minimal pairs, and the sentence-cosine floor.

Writes core/tokenomy/cache/data/diff_verifier.json (coefficients, threshold, the
tuning scores the error bound calibrates from; no question text) and
benchmarks/results/cache_diff_verifier_fit.json (what each rule refused on the
tuning half). The test half is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.cache.diff_verifier import FORMAT, DiffVerifier  # noqa: E402
from tokenomy.cache.differences import DIFF_FEATURES  # noqa: E402
from tokenomy.embed import default_embedder  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "cache_contrast.jsonl"
OUT_WEIGHTS = ROOT / "core" / "tokenomy" / "cache" / "data" / "diff_verifier.json"
OUT_RESULTS = ROOT / "benchmarks" / "results" / "cache_diff_verifier_fit.json"
EMB_DIR = Path("/tmp/tokenomy-contrast-emb")
MIN_SIMILARITY = 0.5


def load(split: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line]
    return [r for r in rows if split is None or r["split"] == split]


def embed(texts: list[str]) -> dict[str, np.ndarray]:
    """MiniLM vectors, kept in /tmp between runs (keyed by a hash of the text list)."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = EMB_DIR / f"{key}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = default_embedder().embed(texts)
        EMB_DIR.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return dict(zip(texts, vectors, strict=True))


def pair_vectors(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return embed(sorted({t for r in rows for t in (r["a"], r["b"])}))


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / std, y)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    return [round(float(c), 6) for c in coef], round(intercept, 6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-minimal", type=float, default=0.01)
    parser.add_argument("--show", action="store_true", help="print the tuning pairs it gets wrong")
    args = parser.parse_args()
    tune = load("tune")
    vec = pair_vectors(tune)
    base = DiffVerifier(coef=(0.0,) * len(DIFF_FEATURES), intercept=0.0, threshold=0.0,
                        min_similarity=0.0)
    diffs = [base.difference(r["a"], r["b"], float(vec[r["a"]] @ vec[r["b"]])) for r in tune]
    same = np.array([bool(r["same"]) for r in tune])
    cos = np.array([d.features[0] for d in diffs])
    refused = Counter((d.reason, bool(r["same"])) for d, r in zip(diffs, tune, strict=True) if d.reason)
    ruled = np.array([d.reason is not None for d in diffs])
    floor = cos >= MIN_SIMILARITY
    keep = ~ruled & floor
    x = np.array([d.features for d in diffs])
    coef, intercept = fit_logistic(x[keep], same[keep])
    v = DiffVerifier(coef=tuple(coef), intercept=intercept, threshold=0.0, min_similarity=MIN_SIMILARITY)
    scores = np.array([v.score_difference(d) for d in diffs])
    n_min = int((~same).sum())
    threshold = 1.0
    for t in sorted(set(scores[keep].round(6)), reverse=True):
        served_min = int((keep & ~same & (scores >= t)).sum())
        if served_min / n_min > args.max_minimal:
            break
        threshold = float(t)
    served = keep & (scores >= threshold)
    result = {
        "tune_pairs": len(tune),
        "paraphrases_served": float(served[same].mean()),
        "minimal_served": float(served[~same].mean()),
        "threshold": threshold,
        "coef": dict(zip(DIFF_FEATURES, coef, strict=True)),
        "intercept": intercept,
        "rule_refusals": {f"{k} ({'paraphrase' if s else 'minimal'})": n for (k, s), n in sorted(refused.items())},
    }
    print(json.dumps(result, indent=1))
    if args.show:
        for d, r, sc, ok in zip(diffs, tune, scores, served, strict=True):
            if ok != r["same"]:
                print(f"{'P' if r['same'] else 'M'} {r['kind']:14} {d.reason or f'score {sc:.2f}'} "
                      f"cos {d.features[0]:.3f} | {r['a']} | {r['b']} | {d.only_a} {d.only_b}")
    weights = {
        "format": FORMAT,
        "model": "sentence-transformers:all-MiniLM-L6-v2",
        "features": list(DIFF_FEATURES),
        "coef": coef,
        "intercept": intercept,
        "threshold": round(threshold, 6),
        "min_similarity": MIN_SIMILARITY,
        "calibration": {
            "note": "tuning-half scores of the pairs no rule or floor refused (same: paraphrase)",
            "scores": [round(float(s), 6) for s in scores[keep]],
            "same": [bool(s) for s in same[keep]],
            "refused_minimal": int((~keep & ~same).sum()),
            "refused_same": int((~keep & same).sum()),
        },
        "fit": {
            "source": "benchmarks/data/cache_contrast.jsonl, split == 'tune' (hand-written, ours)",
            "estimator": "sklearn LogisticRegression(C=1.0, class_weight='balanced') on standardized features",
            "threshold_rule": f"lowest threshold serving <= {args.max_minimal:.0%} of the tuning minimal pairs",
        },
    }
    OUT_WEIGHTS.write_text(json.dumps(weights, indent=1) + "\n")
    OUT_RESULTS.write_text(json.dumps({"benchmark": "cache_diff_verifier_fit", **result}, indent=1))
    print(f"wrote {OUT_WEIGHTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
