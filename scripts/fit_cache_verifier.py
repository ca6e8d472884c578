"""Fit the semantic cache's pair verifier on QQP and measure it and the hard guards.

Command (from the repository root; the first run embeds 137,551 questions with MiniLM
on one thread, about 16 minutes on 2 cores, cached under /tmp; the fit and the
evaluation then take about 10 minutes):

    /work/venv/bin/python scripts/fit_cache_verifier.py

Options: ``--data PATH`` (default ``../shared/eval-data/gptcache/similiar_qqp_full.json.tar.gz``),
``--cache-dir DIR`` (embedding cache, default /tmp/tokenomy-cache-verifier-emb),
``--mock PATH`` (GPTCache ``mock_data.json``), ``--no-write`` (print only).

Writes ``core/tokenomy/cache/data/verifier.json`` (fitted numbers only, never QQP text:
its licence is research-only) and ``benchmarks/results/cache_verifier_fit.json``.

Data: GPTCache's ``similiar_qqp_full.json`` (80,854 QQP pairs, 30,141 duplicates).
Split: QQP questions repeat across pairs, so pairs are grouped into the connected
components of the graph "question -- question" (texts normalized: lower-case,
alphanumeric words), and a whole component goes to held-out when
``int(sha256(smallest normalized text of the component)[:8], 16) % 100 < 30``. No
question text is on both sides and no pair is dropped.
Model: scikit-learn HistGradientBoostingClassifier on ``verifier.FEATURES``, exported
as plain per-tree node lists (no pickle). A LogisticRegression on the same features is
fitted too and reported: at the same precision it finds fewer duplicates. The tree
configuration, the cosine floor (``min_similarity``) and the threshold are chosen on
out-of-fold scores (5-fold GroupKFold over components) of the training side only;
held-out pairs are used for the reported metrics alone.
Protocol (pairwise): a pair is a hit when cosine >= floor AND the guards pass AND the
verifier score >= threshold; precision = duplicates among hits, recall = hits among
duplicates.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.cache import guards
from tokenomy.cache.verifier import FEATURES, PairVerifier, pair_features_batch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/eval-data/gptcache/similiar_qqp_full.json.tar.gz"
MOCK = ROOT.parent / "shared/eval-data/gptcache/mock_data.json"
MEMBER = "examples/benchmark/similiar_qqp_full.json"
OUT_WEIGHTS = ROOT / "core/tokenomy/cache/data/verifier.json"
OUT_RESULTS = ROOT / "benchmarks/results/cache_verifier_fit.json"
SOURCE = "GPTCache examples/benchmark/similiar_qqp_full.json (Quora Question Pairs)"
HELD_OUT_PERCENT = 30
FLOORS = (0.70, 0.75, 0.78, 0.80, 0.82, 0.85)
CONFIGS = ((200, 15), (300, 15), (200, 31))  # (trees, leaves per tree)
TARGET_PRECISION = 0.90  # of the default threshold, on out-of-fold training scores
FLOOR_PRECISION = 0.80  # the looser operating point the floor must not cut into
COSINES = (0.80, 0.85, 0.88, 0.90, 0.92, 0.95, 0.97)
EMBED_BATCH, CHUNK = 256, 4096

# Hand-made pairs (our text, not QQP). Negatives must be rejected, positives kept.
HARD_NEGATIVES = [
    ("What is the function of TV?", "What is the function of money?"),
    ("what is the function of tv", "what is the function of money"),
    ("What was the tallest building in 2010?", "What was the tallest building in 2020?"),
    ("Who won the 2018 World Cup?", "Who won the 2014 World Cup?"),
    ("How many calories are in two eggs?", "How many calories are in three eggs?"),
    ("What is the best laptop under $500?", "What is the best laptop under $1000?"),
    ("What is the second largest country in the world?", "What is the largest country?"),
    ("Is coffee good for your health?", "Is coffee not good for your health?"),
    ("Can I take ibuprofen while pregnant?", "Can I not take ibuprofen while pregnant?"),
    ("How do I lose weight without exercise?", "How do I lose weight with exercise?"),
    ("Why can't I sleep at night?", "Why can I sleep at night?"),
    ("How do I learn Python?", "How do I learn Java?"),
    ("how do i learn python", "how do i learn java"),
    ("What is the capital of France?", "What is the capital of Germany?"),
    ("Who is the CEO of Apple?", "Who is the CEO of Microsoft?"),
    ("Is it safe to drink tap water in Mexico?", "Is it safe to drink tap water in Spain?"),
    ("What are the side effects of ibuprofen?", "What are the side effects of aspirin?"),
    ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?"),
    ("Are cats afraid of dogs?", "Are dogs afraid of cats?"),
]
HARD_POSITIVES = [
    ("How do I learn Python fast?", "What is the quickest way to learn Python?"),
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("How can I lose weight quickly?", "What is the fastest way to lose weight?"),
    ("Who won the 2018 World Cup?", "Which country won the 2018 FIFA World Cup?"),
    ("Why can't I sleep at night?", "Why am I not able to sleep at night?"),
    ("How do I reset my password?", "How can I reset my password?"),
]


def load_qqp(path: Path) -> list[tuple[str, str, int]]:
    """The (text_a, text_b, label) pairs of the GPTCache QQP benchmark archive."""
    with tarfile.open(path, "r:gz") as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{path} holds no {MEMBER}")
        rows = json.load(member)
    return [(str(r["text_a"]), str(r["text_b"]), int(r["label"])) for r in rows]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def split(pairs: list[tuple[str, str, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(held_out mask, component id) per pair; see the module docstring."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in pairs:
        ra, rb = find(_norm(a)), find(_norm(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the root is the component's smallest text
    roots = [find(_norm(a)) for a, _, _ in pairs]
    ids = {r: i for i, r in enumerate(sorted(set(roots)))}
    digest = {r: int(hashlib.sha256(r.encode()).hexdigest()[:8], 16) for r in ids}
    held = np.array([digest[r] % 100 < HELD_OUT_PERCENT for r in roots])
    return held, np.array([ids[r] for r in roots])


def embed_all(texts: list[str], cache_dir: Path) -> np.ndarray:
    """MiniLM vectors for ``texts``, cached in resumable chunks under ``cache_dir``."""
    from tokenomy.embed import default_embedder

    emb = default_embedder()
    digest = hashlib.sha256(emb.name.encode())
    for t in texts:
        digest.update(t.encode("utf-8", "surrogatepass") + b"\0")
    folder = cache_dir / digest.hexdigest()[:20]
    folder.mkdir(parents=True, exist_ok=True)
    parts, start = [], time.perf_counter()
    for c0 in range(0, len(texts), CHUNK):
        f = folder / f"chunk_{c0 // CHUNK:05d}.npy"
        if not f.exists():
            chunk = texts[c0 : c0 + CHUNK]
            batches = [chunk[b : b + EMBED_BATCH] for b in range(0, len(chunk), EMBED_BATCH)]
            vecs = np.concatenate([emb.inner.embed(b) for b in batches]).astype(np.float32)
            tmp = f.with_suffix(".tmp.npy")
            np.save(tmp, vecs)
            os.replace(tmp, f)
            done, secs = min(c0 + CHUNK, len(texts)), time.perf_counter() - start
            print(f"  embedded {done}/{len(texts)} ({secs:.0f} s)", file=sys.stderr, flush=True)
        parts.append(np.load(f))
    return np.concatenate(parts)


def pr(hit: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Precision, recall and counts of a hit mask against labels."""
    tp, n = int((hit & (y == 1)).sum()), int(hit.sum())
    return {"precision": tp / n if n else 1.0, "recall": tp / int(y.sum()), "hits": n, "tp": tp}


def best_threshold(score: np.ndarray, ok: np.ndarray, y: np.ndarray, target: float) -> float:
    """The lowest score threshold whose hits (among ``ok``) reach ``target`` precision."""
    s, lab = score[ok], y[ok]
    order = np.argsort(-s, kind="stable")
    ranked, tp = s[order], np.cumsum(lab[order])
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    good = ends[tp[ends] / (ends + 1) >= target]
    return float(ranked[good.max()]) if good.size else 1.0


def recall_at(score: np.ndarray, ok: np.ndarray, y: np.ndarray, target: float) -> float:
    thr = best_threshold(score, ok, y, target)
    return pr(ok & (score >= thr), y)["recall"]


def precision_at_recall(score: np.ndarray, ok: np.ndarray, y: np.ndarray, r: float) -> float:
    s = np.where(ok, score, -np.inf)
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    k = int(np.searchsorted(tp, np.ceil(r * y.sum())))
    return float(tp[k] / (k + 1)) if k < len(s) and np.isfinite(s[order][k]) else float("nan")


def fit_trees(x: np.ndarray, y: np.ndarray, config: tuple[int, int]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    iters, leaves = config
    return HistGradientBoostingClassifier(
        max_iter=iters, max_leaf_nodes=leaves, learning_rate=0.1, random_state=0
    ).fit(x, y)


def out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, config: tuple[int, int]
) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    for fit_idx, val_idx in GroupKFold(n_splits=5).split(x, y, groups):
        oof[val_idx] = fit_trees(x[fit_idx], y[fit_idx], config).predict_proba(x[val_idx])[:, 1]
    return oof


def guard_masks(pairs: list[tuple[str, str, int]]) -> dict[str, np.ndarray]:
    """Per guard, whether each pair passes it alone."""
    return {
        g: np.array([guards.check_pair(a, b, guards=(g,)).ok for a, b, _ in pairs])
        for g in guards.GUARDS
    }


def all_pass(masks: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    out = np.ones(len(next(iter(masks.values()))), dtype=bool)
    for name in names:
        out &= masks[name]
    return out


def guard_effects(
    base: np.ndarray, masks: dict[str, np.ndarray], y: np.ndarray
) -> dict[str, dict[str, float]]:
    """What each guard removes from the hits ``base``: duplicates (recall it costs),
    non-duplicates, and the precision it adds."""
    before = pr(base, y)
    out = {}
    for name, ok in masks.items():
        after = pr(base & ok, y)
        out[name] = {
            "duplicates_removed": int((base & ~ok & (y == 1)).sum()),
            "non_duplicates_removed": int((base & ~ok & (y == 0)).sum()),
            "recall_cost": before["recall"] - after["recall"],
            "precision_gain": after["precision"] - before["precision"],
        }
    return out


def latency(fn: Callable[[int], object], n: int) -> dict[str, float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def r3(x: float) -> float:
    return round(float(x), 4)


def choose(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, cos: np.ndarray, ok: np.ndarray
) -> dict[str, Any]:
    """Tree configuration, floor and threshold from out-of-fold training scores."""
    by_config = {}
    for config in CONFIGS:
        oof = out_of_fold(x, y, groups, config)
        by_config[config] = (recall_at(oof, ok & (cos >= FLOORS[0]), y, TARGET_PRECISION), oof)
        print(
            f"  trees, leaves = {config}: out-of-fold recall at precision {TARGET_PRECISION}: "
            f"{by_config[config][0]:.4f}",
            flush=True,
        )
    config = max(CONFIGS, key=lambda c: by_config[c][0])
    oof = by_config[config][1]
    # The floor only pre-filters: the highest floor that keeps >= 99% of the recall the
    # lowest floor allows at a looser precision, so calibrated thresholds are not capped.
    floors = {f: recall_at(oof, ok & (cos >= f), y, FLOOR_PRECISION) for f in FLOORS}
    floor = max(f for f in FLOORS if floors[f] >= 0.99 * floors[FLOORS[0]])
    threshold = best_threshold(oof, ok & (cos >= floor), y, TARGET_PRECISION)
    return {
        "config": config,
        "config_oof_recall": {
            f"{c[0]} trees x {c[1]} leaves": r3(v[0]) for c, v in by_config.items()
        },
        "floor_oof_recall": {str(f): r3(v) for f, v in floors.items()},
        "min_similarity": floor,
        "threshold": threshold,
        "oof": oof,
    }


def sig(value: float) -> float:
    return float(f"{value:.7g}")


def weights_json(model: Any, chosen: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The shipped numbers: sklearn's trees (``_predictors``, ``_baseline_prediction``:
    private but plain arrays) as per-tree node lists, leaves marked by feature -1.
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
        "format": "tokenomy-pair-verifier/2 (boosted trees)",
        "model": "sentence-transformers:all-MiniLM-L6-v2",
        "features": list(FEATURES),
        "base": sig(np.ravel(model._baseline_prediction)[0]),
        "trees": trees,
        "threshold": float(f"{chosen['threshold']:.6g}"),
        "min_similarity": chosen["min_similarity"],
        "guards": list(guards.DEFAULT_GUARDS),
        "fit": meta,
    }


def hand_made(verifier: PairVerifier) -> list[dict[str, Any]]:
    from tokenomy.embed import default_embedder

    emb, rows = default_embedder(), []
    for label, group in (("different", HARD_NEGATIVES), ("same", HARD_POSITIVES)):
        for a, b in group:
            u, v = emb.embed([a, b])
            guard = guards.check_pair(a, b)
            rows.append(
                {
                    "expected": label,
                    "query": a,
                    "candidate": b,
                    "cosine": r3(u @ v),
                    "guard": guard.reason or "pass",
                    "score": r3(verifier.score(a, b, u, v)),
                    "accepted": verifier.accepts(a, b, u, v),
                }
            )
    return rows


def mock_recall(path: Path, verifier: PairVerifier) -> dict[str, Any]:
    from tokenomy.embed import default_embedder

    rows = json.loads(path.read_text("utf-8"))
    a, b = [r["origin"] for r in rows], [r["similar"] for r in rows]
    emb = default_embedder().inner
    u, v = emb.embed(a), emb.embed(b)
    cos = np.einsum("ij,ij->i", u, v)
    ok = np.array([guards.check_pair(x, z).ok for x, z in zip(a, b, strict=True)])
    score = verifier.score_features(pair_features_batch(a, b, u, v))
    hit = (cos >= verifier.min_similarity) & ok & (score >= verifier.threshold)
    reasons: dict[str, int] = {}
    for x, z in zip(a, b, strict=True):
        r = guards.check_pair(x, z).reason
        if r:
            reasons[r.split(":")[0]] = reasons.get(r.split(":")[0], 0) + 1
    return {
        "pairs": len(rows),
        "recall_pipeline": r3(hit.mean()),
        "recall_cosine_0.90": r3((cos >= 0.90).mean()),
        "recall_cosine_0.95": r3((cos >= 0.95).mean()),
        "below_floor": int((cos < verifier.min_similarity).sum()),
        "guard_vetoes": reasons,
        "below_threshold": int(((cos >= verifier.min_similarity) & ok & ~hit).sum()),
    }


def sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def logistic_baseline(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    held: np.ndarray,
    cos: np.ndarray,
    ok: np.ndarray,
) -> dict[str, float]:
    """The linear model the trees replaced, for the record (same features and split)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    fit = train & (cos >= 0.7)
    scaler = StandardScaler().fit(x[fit])
    lr = LogisticRegression(C=0.0003, max_iter=5000).fit(scaler.transform(x[fit]), y[fit])
    s = lr.predict_proba(scaler.transform(x[held]))[:, 1]
    pipe = ok[held] & (cos[held] >= 0.7)
    return {
        "recall_at_precision_0.9": r3(recall_at(s, pipe, y[held], 0.9)),
        "precision_at_recall_0.3": r3(precision_at_recall(s, pipe, y[held], 0.3)),
        "precision_at_recall_0.4": r3(precision_at_recall(s, pipe, y[held], 0.4)),
    }


def evaluate(
    verifier: PairVerifier,
    score: np.ndarray,
    cos: np.ndarray,
    masks: dict[str, np.ndarray],
    y: np.ndarray,
) -> dict[str, Any]:
    """The held-out tables."""
    default_ok = all_pass(masks, tuple(guards.DEFAULT_GUARDS))
    floor, thr = verifier.min_similarity, verifier.threshold
    pipe = (cos >= floor) & default_ok
    hits = pipe & (score >= thr)
    everything = np.ones(len(y), dtype=bool)
    curve = {}
    for name, ok in (("verifier_alone", everything), ("pipeline", pipe)):
        curve[name] = {
            **{f"recall_at_precision_{p}": r3(recall_at(score, ok, y, p)) for p in (0.9, 0.95)},
            **{
                f"precision_at_recall_{r}": r3(precision_at_recall(score, ok, y, r))
                for r in (0.3, 0.4, 0.45)
            },
        }
    return {
        "cosine_alone": {f"{t:.2f}": pr(cos >= t, y) for t in COSINES},
        "cosine_plus_guards": {f"{t:.2f}": pr((cos >= t) & default_ok, y) for t in COSINES},
        "guards_on_cosine_0.90": guard_effects(cos >= 0.90, masks, y),
        "verifier_alone": {f"{t:.2f}": pr(score >= t, y) for t in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95)},
        "pipeline_thresholds": {
            f"{t:.3f}": pr(pipe & (score >= t), y)
            for t in sorted({0.6, 0.7, 0.75, 0.8, 0.85, 0.9, thr})
        },
        "curves": curve,
        "operating_point": {"min_similarity": floor, "threshold": thr, **pr(hits, y)},
        # leave-one-out: what each default guard removes from the pipeline's other hits
        "guards_at_operating_point": {
            g: guard_effects(
                (cos >= floor)
                & all_pass(masks, tuple(h for h in guards.DEFAULT_GUARDS if h != g))
                & (score >= thr),
                {g: masks[g]},
                y,
            )[g]
            for g in guards.GUARDS
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--mock", type=Path, default=MOCK)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/tokenomy-cache-verifier-emb"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()

    pairs = load_qqp(args.data)
    held, groups = split(pairs)
    y = np.array([lab for _, _, lab in pairs])
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    index = {t: i for i, t in enumerate(texts)}
    vecs = embed_all(texts, args.cache_dir)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    x = pair_features_batch(a, b, vecs[[index[t] for t in a]], vecs[[index[t] for t in b]])
    cos = x[:, 0]
    masks = guard_masks(pairs)
    default_ok = all_pass(masks, tuple(guards.DEFAULT_GUARDS))
    train = ~held
    sizes = {
        "pairs": len(pairs),
        "duplicates": int(y.sum()),
        "texts": len(texts),
        "components": int(groups.max() + 1),
        "train_pairs": int(train.sum()),
        "train_duplicates": int(y[train].sum()),
        "held_out_pairs": int(held.sum()),
        "held_out_duplicates": int(y[held].sum()),
    }
    print("sizes:", sizes, flush=True)

    chosen = choose(x[train], y[train], groups[train], cos[train], default_ok[train])
    model = fit_trees(x[train], y[train], chosen["config"])
    meta = {
        "source": SOURCE,
        "split": (
            "connected components of the question graph (texts lower-cased, alphanumeric "
            f"words); held-out if int(sha256(smallest text)[:8], 16) % 100 < {HELD_OUT_PERCENT}"
        ),
        "sizes": sizes,
        "estimator": (
            f"sklearn {sklearn_version()} HistGradientBoostingClassifier(max_iter="
            f"{chosen['config'][0]}, max_leaf_nodes={chosen['config'][1]}, learning_rate=0.1, "
            f"random_state=0) on all training pairs; sklearn's default early stopping kept "
            f"{len(model._predictors)} trees"
        ),
        "threshold_rule": (
            f"lowest threshold reaching precision {TARGET_PRECISION} on 5-fold GroupKFold "
            "out-of-fold training scores, after the floor and the default guards"
        ),
        "floor_rule": (
            "highest floor keeping >= 99% of the out-of-fold recall of the 0.70 floor, at "
            f"precision {FLOOR_PRECISION}"
        ),
        "config_oof_recall": chosen["config_oof_recall"],
        "floor_oof_recall": chosen["floor_oof_recall"],
    }
    data = weights_json(model, chosen, meta)
    verifier = PairVerifier.from_dict(data)  # evaluate the rounded, shipped numbers
    score = verifier.score_features(x)
    drift = float(np.abs(score[held] - model.predict_proba(x[held])[:, 1]).max())
    if drift > 1e-4:
        raise SystemExit(f"exported trees disagree with sklearn by {drift}")
    tables = evaluate(
        verifier, score[held], cos[held], {k: v[held] for k, v in masks.items()}, y[held]
    )
    data["fit"]["held_out"] = tables["operating_point"] | tables["curves"]
    baseline = logistic_baseline(x, y, train, held, cos, default_ok)
    tables["logistic_regression_same_features"] = baseline

    hard = hand_made(verifier)
    mock = mock_recall(args.mock, verifier) if args.mock.exists() else None
    ids = np.flatnonzero(held)[:2000]
    hv = vecs[[index[t] for t in a]], vecs[[index[t] for t in b]]

    def one(i: int) -> object:
        k = ids[i]
        return verifier.score(a[k], b[k], hv[0][k], hv[1][k])

    guards.analyze.cache_clear()
    cold = latency(one, len(ids))
    warm = latency(one, len(ids))
    results = {
        "command": "/work/venv/bin/python scripts/fit_cache_verifier.py",
        "fit": meta,
        "held_out": tables,
        "mock_data_paraphrases": mock,
        "hand_made": hard,
        "score_latency": {"cold_text_analysis": cold, "warm_text_analysis": warm, "n": len(ids)},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    report(results, tables)
    if not args.no_write:
        OUT_WEIGHTS.write_text(json.dumps(data, separators=(",", ":")) + "\n", "utf-8")
        OUT_RESULTS.write_text(json.dumps(results, indent=1, default=float) + "\n", "utf-8")
        print(f"wrote {OUT_WEIGHTS} ({OUT_WEIGHTS.stat().st_size} bytes) and {OUT_RESULTS}")


def report(results: dict[str, Any], t: dict[str, Any]) -> None:
    def row(name: str, m: dict[str, float]) -> None:
        print(f"  {name:<34} P={m['precision']:.3f}  R={m['recall']:.3f}  hits={m['hits']}")

    print("\nheld-out, cosine alone / cosine + default guards:")
    for k in t["cosine_alone"]:
        row(f"cosine >= {k}", t["cosine_alone"][k])
        row(f"cosine >= {k} + guards", t["cosine_plus_guards"][k])
    print("\nheld-out, each guard alone on cosine >= 0.90 hits:")
    for g, e in t["guards_on_cosine_0.90"].items():
        print(f"  {g:<10} {e}")
    print("\nheld-out, verifier alone:")
    for k, m in t["verifier_alone"].items():
        row(f"score >= {k}", m)
    print("\nheld-out, pipeline (floor + guards + verifier):")
    for k, m in t["pipeline_thresholds"].items():
        row(f"score >= {k}", m)
    print("  curves:", json.dumps(t["curves"]))
    print("  operating point:", t["operating_point"])
    print("\nheld-out, each guard at the operating point (others on):")
    for g, e in t["guards_at_operating_point"].items():
        print(f"  {g:<10} {e}")
    print("\nmock_data paraphrases:", results["mock_data_paraphrases"])
    print("\nhand-made pairs:")
    for h in results["hand_made"]:
        flag = "ok " if h["accepted"] == (h["expected"] == "same") else "BAD"
        print(
            f"  {flag} {h['expected']:<9} cos={h['cosine']:.3f} score={h['score']:.3f} "
            f"{h['guard'][:40]:<40} {h['query']} | {h['candidate']}"
        )
    print("\nscore() latency:", results["score_latency"])
    print(
        "logistic regression, same features (held-out, floor 0.70 + guards):",
        t["logistic_regression_same_features"],
    )
    print("fit:", {k: results["fit"][k] for k in ("config_oof_recall", "floor_oof_recall")})


if __name__ == "__main__":
    main()
