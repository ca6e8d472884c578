"""Routing on task families the router has not seen: leave-one-family-out, and online.

Command (from the repository root):
    PYTHONPATH=core /work/main/.venv/bin/python benchmarks/route_transfer.py

Writes benchmarks/results/route_transfer.json. Data and families as in
``scripts/fit_default_router.py``: RouteLLM's MMLU correctness (four subject groups)
and MT-Bench judge scores (eight categories) of Mixtral-8x7B and GPT-4-1106.

Leave-one-family-out: for each family, everything is fitted on the other eleven and
tested on it (the shipped prior is fitted on all twelve, so it is refitted here per
fold). Routers, each ranking the held-out prompts by GPT-4's predicted advantage:

- ``default``: the unfitted ``Router()``'s prior as shipped (tier model: difficulty
  ``u`` over prompt features, MiniLM probe and family similarity; the tier gap ``v``
  over the family similarity only), refitted on the other families;
- ``previous_default``: the prior shipped before (every term in ``v``), refitted the
  same way;
- ``knn``: plain kNN reference: GPT-4's minus Mixtral's mean outcome over the 32
  nearest prompts of the other families (cosine squared weights);
- ``fit``: ``Router.fit`` (the fitted path: features + kNN logistic per model) on
  the other families' outcomes;
- ``in_family``: the ceiling the labels allow: routers fitted on the held-out family's
  OWN prompts, 2-fold (by MT-Bench question), mean of three seeded splits: plain kNN and
  the prior's tier model (every term); ``ceiling`` is the better of the two;
- ``random``: APGR 0.5, and the linear GPT-4 share.

Metrics on the held-out family: APGR (RouteLLM's average performance gap recovered:
the area under (performance - Mixtral's) / (GPT-4's - Mixtral's) over the share of
GPT-4 calls, ties split evenly) with a bootstrap 95% interval (1,000 resamples of the
family's prompts, an MT-Bench question's two turns together), and the GPT-4 share
needed for 95% of GPT-4's performance (accuracy, or mean score). A family whose two
models are within 0.02 of each other has no gap to recover: APGR is reported but
marked noise.

Online: on each held-out MMLU family, a seeded 1,000 prompts are the test set and
outcomes of both models arrive for the others in a seeded order through
``Router.update``; APGR on the test set after 0, 100, 500 and 2,000 prompts, against
plain kNN over the same outcomes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

import numpy as np
from _route_eval import bootstrap, in_family, knn_scores, metrics
from fit_default_router import EMBEDDER, STRONG, WEAK, embed, fit, load, predict

from tokenomy.route import ModelSpec, ModelTable, Router

OUT = ROOT / "benchmarks" / "results" / "route_transfer.json"
TABLE = ModelTable(
    [
        ModelSpec("mixtral", 0.6, 0.6, quality=WEAK),
        ModelSpec("gpt-4", 10.0, 30.0, quality=STRONG),
    ]
)
ONLINE_STEPS = (0, 100, 500, 2000)
ROUTERS = ("default", "previous_default", "knn", "fit")


def fold(rows: list[dict[str, Any]], vectors: np.ndarray, held: str) -> dict[str, Any]:
    families = np.array([r["family"] for r in rows])
    train, test = np.where(families != held)[0], np.where(families == held)[0]
    weak = np.array([rows[i]["weak"] for i in test])
    strong = np.array([rows[i]["strong"] for i in test])
    d = np.array([r["strong"] - r["weak"] for r in rows])
    p = predict(fit(rows, vectors, train), rows, vectors, test)
    pp = predict(fit(rows, vectors, train, gap_penalty=None), rows, vectors, test)
    fitted = Router(TABLE, quality_target=None, embedder=None).fit(
        [rows[i]["prompt"] for i in train],
        {"mixtral": [rows[i]["weak"] for i in train], "gpt-4": [rows[i]["strong"] for i in train]},
        vectors=vectors[train],
    )
    pf = np.array(
        [
            [fitted.predict(rows[i]["prompt"], vector=vectors[i])[m] for m in ("mixtral", "gpt-4")]
            for i in test
        ]
    )
    scores = {
        "default": p[:, 1] - p[:, 0],
        "previous_default": pp[:, 1] - pp[:, 0],
        "knn": knn_scores(vectors[train], d[train], vectors[test]),
        "fit": pf[:, 1] - pf[:, 0],
    }
    clusters = np.array([rows[i]["cluster"] for i in test])

    def own_prior(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        q = predict(fit(rows, vectors, tr, gap_penalty=None), rows, vectors, te)
        out: np.ndarray = q[:, 1] - q[:, 0]
        return out

    def own_knn(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        return knn_scores(vectors[tr], d[tr], vectors[te])

    gap = float(strong.mean() - weak.mean())
    ceiling = in_family(test, clusters, {"knn": own_knn, "prior": own_prior}, weak, strong)
    goal = 0.95 * strong.mean()
    random_share = max(0.0, (goal - weak.mean()) / gap) if gap > 0 else 0.0
    return {
        "family": held,
        "n": len(test),
        "mixtral": round(float(weak.mean()), 4),
        "gpt4": round(float(strong.mean()), 4),
        "gap": round(gap, 4),
        "noise": abs(gap) < 0.02,
        **{k: metrics(v, weak, strong) for k, v in scores.items()},
        "random": {
            "apgr": 0.5 if gap > 0 else None,
            "gpt4_share_for_95pct": round(random_share, 4),
        },
        "in_family": ceiling,
        "ceiling": max((v for v in ceiling.values() if v is not None), default=None),
        "apgr_95pct_interval": bootstrap(scores, weak, strong, clusters) if gap > 0 else None,
        "predicted_gap": round(float(scores["default"].mean()), 4),
    }


def online(
    rows: list[dict[str, Any]], vectors: np.ndarray, held: str, seed: int = 18
) -> dict[str, Any]:
    families = np.array([r["family"] for r in rows])
    train, pool = np.where(families != held)[0], np.where(families == held)[0]
    rng = np.random.default_rng(seed)
    pool = rng.permutation(pool)
    test, stream = pool[:1000], pool[1000:]
    weak = np.array([rows[i]["weak"] for i in test])
    strong = np.array([rows[i]["strong"] for i in test])
    router = Router(TABLE, quality_target=None, prior=fit(rows, vectors, train))
    router._embedder = _Named(EMBEDDER)  # vectors are always passed in
    out: dict[str, Any] = {"family": held, "test": len(test), "steps": []}
    seen = 0
    for step in ONLINE_STEPS:
        if step > len(stream):
            break
        t0 = time.perf_counter()
        for i in stream[seen:step]:
            router.update(rows[i]["prompt"], "mixtral", rows[i]["weak"], vector=vectors[i])
            router.update(rows[i]["prompt"], "gpt-4", rows[i]["strong"], vector=vectors[i])
        update_ms = (time.perf_counter() - t0) * 1000 / max(1, 2 * (step - seen))
        seen = step
        pred = [router.predict(rows[i]["prompt"], vector=vectors[i]) for i in test]
        score = np.array([q["gpt-4"] - q["mixtral"] for q in pred])
        entry = {
            "outcomes": step,
            "default_updated": metrics(score, weak, strong),
            "brier": brier(pred, weak, strong),
        }
        if step:
            got = stream[:step]
            d = np.array([rows[i]["strong"] - rows[i]["weak"] for i in got])
            entry["knn_same_outcomes"] = metrics(
                knn_scores(vectors[got], d, vectors[test]), weak, strong
            )
            entry["update_ms"] = round(update_ms, 3)
        out["steps"].append(entry)
    return out


def brier(pred: list[dict[str, float]], weak: np.ndarray, strong: np.ndarray) -> float:
    """Mean squared error of the predicted success against the outcomes, both models
    (what the router's choice at a quality target reads, not only the ranking)."""
    p = np.array([[q["mixtral"], q["gpt-4"]] for q in pred])
    return round(float(np.mean((p - np.column_stack([weak, strong])) ** 2)), 4)


class _Named:
    """Stands in for MiniLM when every vector is precomputed (fails if asked to embed)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("benchmark vectors are precomputed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tokenomy-bench-embeddings"))
    parser.add_argument("--families", default="all", help="held-out families, comma-separated")
    parser.add_argument("--online", default="mmlu", help="families of the online curve, or none")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--merge", default="", help="combine these partial JSON files into --out")
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge.split(",")]
        folds = sorted((f for p in parts for f in p["folds"]), key=lambda f: f["family"])
        curves = sorted((c for p in parts for c in p["online"]), key=lambda c: c["family"])
        write(args.out, folds, curves)
        return
    rows = load(args.data)
    print(f"{len(rows)} prompts; embedding…", file=sys.stderr)
    vectors = embed(rows, args.cache)
    families = sorted({r["family"] for r in rows})
    chosen = (
        families
        if args.families == "all"
        else ([] if args.families == "none" else args.families.split(","))
    )
    folds = []
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    print(
        f"{'held-out family':<24}{'n':>6}{'gap':>7}  {'APGR default [95% interval]':>28}"
        f"{'previous':>9}{'knn':>7}{'fit':>7}{'in-family':>10}   "
        f"{'GPT-4 share for 95%: default':>28}{'knn':>7}{'fit':>7}{'random':>8}"
    )
    for held in chosen:
        r = fold(rows, vectors, held)
        folds.append(r)
        d, k, f, rnd = r["default"], r["knn"], r["fit"], r["random"]
        ci = (r["apgr_95pct_interval"] or {}).get("default")
        band = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        print(
            f"{held:<24}{r['n']:>6}{r['gap']:>+7.3f}  {fmt(d['apgr']) + band:>28}"
            f"{fmt(r['previous_default']['apgr']):>9}{fmt(k['apgr']):>7}{fmt(f['apgr']):>7}"
            f"{fmt(r['ceiling']):>10}   "
            f"{fmt(d['gpt4_share_for_95pct']):>28}{fmt(k['gpt4_share_for_95pct']):>7}"
            f"{fmt(f['gpt4_share_for_95pct']):>7}{fmt(rnd['gpt4_share_for_95pct']):>8}"
            + ("  (no gap: noise)" if r["noise"] else ""),
            flush=True,
        )
    online_families = (
        []
        if args.online == "none"
        else [f for f in families if f.startswith("mmlu/")]
        if args.online == "mmlu"
        else args.online.split(",")
    )
    curves = []
    for held in online_families:
        c = online(rows, vectors, held)
        curves.append(c)
        steps = []
        for s in c["steps"]:
            knn = s.get("knn_same_outcomes")
            steps.append(
                f"{s['outcomes']}: {fmt(s['default_updated']['apgr'])}"
                f" [brier {s['brier']:.3f}]" + (f" (knn {fmt(knn['apgr'])})" if knn else "")
            )
        print(f"online {held}: " + ", ".join(steps), flush=True)
    write(args.out, folds, curves)


def write(out: Path, folds: list[dict[str, Any]], curves: list[dict[str, Any]]) -> None:
    real = [f for f in folds if not f["noise"]]
    summary: dict[str, Any] = {"families": len(folds), "families_with_a_gap": len(real)}
    if real:
        summary |= {f"min_apgr_{k}": min(f[k]["apgr"] for f in real) for k in ROUTERS}
        summary |= {
            "min_apgr_in_family_ceiling": min(f["ceiling"] for f in real),
            "default_at_least_random_everywhere": all(f["default"]["apgr"] >= 0.5 for f in real),
            "default_apgr_at_least_0.60_everywhere": all(f["default"]["apgr"] >= 0.6 for f in real),
            "families_where_0.60_is_above_the_in_family_ceiling": [
                f["family"] for f in real if f["ceiling"] < 0.6
            ],
            "families_where_the_default_interval_excludes_random": [
                f["family"] for f in real if f["apgr_95pct_interval"]["default"][0] > 0.5
            ],
            "families_where_the_default_interval_is_below_random": [
                f["family"] for f in real if f["apgr_95pct_interval"]["default"][1] < 0.5
            ],
        }
    print(json.dumps(summary, indent=1))
    out.parent.mkdir(exist_ok=True)
    result = {"summary": summary, "folds": folds, "online": curves}
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
