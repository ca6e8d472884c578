"""Fit the semantic cache's difference-aware verifier on the contrast set's tuning half.

Command (from the repository root, with the local extra installed):
    python scripts/fit_diff_verifier.py [--show]

Reads benchmarks/data/cache_contrast.jsonl (scripts/build_contrast_set.py), embeds
every question with the bundled MiniLM, and, on the ``tune`` half only:

1. reads each pair's :func:`tokenomy.cache.differences.diff` (the named rules and the
   alignment features, with MiniLM word-piece similarity) and the QQP trees' log-odds;
2. fits a logistic regression (scikit-learn, standardized features folded back into
   plain coefficients) on the tuning pairs no rule refuses, plus, as a second signal,
   a seeded sample of QQP *training* pairs (the split of scripts/fit_cache_verifier.py;
   held-out pairs stay unseen) weighted to ``--qqp-weight`` (default 0.2) of the
   tuning pairs' total weight;
3. picks the threshold: the lowest one serving at most ``--max-minimal`` (default 1%)
   of the tuning half's minimal pairs is the floor; the threshold is the highest one
   that still serves as many tuning paraphrases (within ``--recall-slack``, 0.5
   points), since a higher threshold serves fewer QQP false hits.

Writes core/tokenomy/cache/data/diff_verifier.json (coefficients, threshold, the
tuning scores the error bound calibrates from; no question text) and
benchmarks/results/cache_diff_verifier_fit.json. The test half is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.cache.diff_verifier import FEATURES, FORMAT, DiffVerifier  # noqa: E402
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


def fit_module() -> Any:
    spec = importlib.util.spec_from_file_location("fit", ROOT / "scripts" / "fit_cache_verifier.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def qqp_train_sample(data: Path, n: int) -> list[tuple[str, str, int]]:
    """A seeded sample of QQP training pairs (never the held-out split)."""
    fit = fit_module()
    pairs = fit.load_qqp(data / "gptcache" / "similiar_qqp_full.json.tar.gz")
    held, _ = fit.split(pairs)
    train = [p for p, h in zip(pairs, held, strict=True) if not h]
    return random.Random(17).sample(train, min(n, len(train)))


def read(
    v: DiffVerifier, pairs: list[tuple[str, str]], vec: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Rule reasons, features and cosine-floor mask of (cached, query) pairs."""
    reasons, rows = [], []
    for cached, query in pairs:
        cos = float(vec[query] @ vec[cached])
        reasons.append(
            v.difference(query, cached, cos).reason if cos >= v.min_similarity else "floor"
        )
        rows.append(v.features(query, cached, vec[query], vec[cached]))
    return {"reasons": reasons, "x": np.array(rows), "ok": np.array([r is None for r in reasons])}


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / std, y, sample_weight=w)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    return [round(float(c), 6) for c in coef], round(intercept, 6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-minimal", type=float, default=0.01)
    parser.add_argument("--qqp-weight", type=float, default=0.2)
    parser.add_argument("--recall-slack", type=float, default=0.005)
    parser.add_argument("--qqp-sample", type=int, default=4000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--show", action="store_true", help="print the tuning pairs it gets wrong")
    args = parser.parse_args()
    tune = load("tune")
    base = DiffVerifier(
        coef=(0.0,) * len(FEATURES), intercept=0.0, threshold=0.0, min_similarity=MIN_SIMILARITY
    )
    t = read(
        base,
        [(r["a"], r["b"]) for r in tune],
        embed(sorted({x for r in tune for x in (r["a"], r["b"])})),
    )
    y = np.array([bool(r["same"]) for r in tune])
    sample = qqp_train_sample(args.data, args.qqp_sample)
    q = read(
        base,
        [(a, b) for a, b, _ in sample],
        embed(sorted({x for a, b, _ in sample for x in (a, b)})),
    )
    yq = np.array([bool(p[2]) for p in sample])
    x = np.vstack([t["x"][t["ok"]], q["x"][q["ok"]]])
    labels = np.concatenate([y[t["ok"]], yq[q["ok"]]])
    n_t, n_q = int(t["ok"].sum()), int(q["ok"].sum())
    weights = np.concatenate([np.ones(n_t), np.full(n_q, args.qqp_weight * n_t / max(n_q, 1))])
    coef, intercept = fit_logistic(x, labels, weights)
    v = DiffVerifier(
        coef=tuple(coef), intercept=intercept, threshold=0.0, min_similarity=MIN_SIMILARITY
    )
    scores = np.array([v.score_features(tuple(row)) for row in t["x"]])
    keep, n_min = t["ok"], int((~y).sum())
    lowest = 1.0
    for cut in sorted(set(scores[keep].round(6)), reverse=True):
        if int((keep & ~y & (scores >= cut)).sum()) / n_min > args.max_minimal:
            break
        lowest = float(cut)
    # QQP as the tie-breaker: the highest threshold serving as many tuning paraphrases
    # as the lowest allowed one (to within --recall-slack), for fewer QQP false hits
    best_recall = float((keep & y & (scores >= lowest)).sum()) / int(y.sum())
    threshold = max(
        float(cut)
        for cut in set(scores[keep].round(6)) | {lowest}
        if cut >= lowest
        and float((keep & y & (scores >= cut)).sum()) / int(y.sum())
        >= best_recall - args.recall_slack
    )
    served = keep & (scores >= threshold)
    q_scores = np.array([v.score_features(tuple(row)) for row in q["x"]])
    q_hit = q["ok"] & (q_scores >= threshold)
    refused = Counter((r, bool(s)) for r, s in zip(t["reasons"], y, strict=True) if r)
    result = {
        "tune_pairs": len(tune),
        "paraphrases_served": round(float(served[y].mean()), 4),
        "minimal_served": round(float(served[~y].mean()), 4),
        "threshold": threshold,
        "qqp_train_sample_at_threshold": {
            "pairs": len(sample),
            "precision": round(float(yq[q_hit].mean()), 4) if q_hit.any() else 0.0,
            "recall": round(float(yq[q_hit].sum() / max(yq.sum(), 1)), 4),
            "note": "in-sample for the QQP trees behind qqp_logit: optimistic",
        },
        "coef": dict(zip(FEATURES, coef, strict=True)),
        "intercept": intercept,
        "rule_refusals_tune": {
            f"{k} ({'paraphrase' if s else 'minimal'})": n for (k, s), n in sorted(refused.items())
        },
    }
    print(json.dumps(result, indent=1))
    if args.show:
        for r, reason, sc, ok in zip(tune, t["reasons"], scores, served, strict=True):
            if ok != r["same"]:
                why = reason or f"score {sc:.2f}"
                print(f"{'P' if r['same'] else 'M'} {r['kind']:14} {why} | {r['a']} | {r['b']}")
    weights_json = {
        "format": FORMAT,
        "model": "sentence-transformers:all-MiniLM-L6-v2",
        "features": list(FEATURES),
        "coef": coef,
        "intercept": intercept,
        "threshold": round(threshold, 6),
        "min_similarity": MIN_SIMILARITY,
        "calibration": {
            "note": "tuning-half scores of the pairs no rule or floor refused (same: paraphrase)",
            "scores": [round(float(s), 6) for s in scores[keep]],
            "same": [bool(s) for s in y[keep]],
            "refused_minimal": int((~keep & ~y).sum()),
            "refused_same": int((~keep & y).sum()),
        },
        "fit": {
            "source": "benchmarks/data/cache_contrast.jsonl, split == 'tune' (hand-written, ours); "
            f"{len(sample)} QQP training pairs (seed 17) at weight {args.qqp_weight}",
            "estimator": "sklearn LogisticRegression(C=1.0, class_weight='balanced') "
            "on standardized features",
            "threshold_rule": f"highest threshold serving as many tuning paraphrases (within "
            f"{args.recall_slack}) as the lowest one serving <= {args.max_minimal:.0%} "
            "of the tuning minimal pairs",
        },
    }
    OUT_WEIGHTS.write_text(json.dumps(weights_json, indent=1) + "\n")
    OUT_RESULTS.write_text(
        json.dumps({"benchmark": "cache_diff_verifier_fit", **result}, indent=1) + "\n"
    )
    print(f"wrote {OUT_WEIGHTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
