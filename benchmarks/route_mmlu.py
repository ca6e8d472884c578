"""Routing MMLU between Mixtral-8x7B and GPT-4: the cost-accuracy curve on held-out questions.

Command (from the repository root):
    python benchmarks/route_mmlu.py

Writes benchmarks/results/route_mmlu.json. Data: RouteLLM's per-prompt correctness
of Mixtral-8x7B-Instruct and gpt-4-1106-preview on 14,042 MMLU questions (57
subjects). Two protocols: "questions" fits on a seeded half of each subject's
questions and tests on the other half; "subjects" fits on a seeded half of the
subjects and tests on the rest (unseen subjects). The router (MiniLM neighbours +
complexity features, logistic per model) routes with ``Router.choose`` and a
``tolerance``: GPT-4 gets a question when its predicted success exceeds Mixtral's by
more than the tolerance; sweeping the tolerance traces the curve of accuracy against
the share of GPT-4 calls (201 points). The ``quality_target`` rule (GPT-4 when
Mixtral's own predicted success is under a target) is swept too, for comparison.
Reported against random routing (expected accuracy at each share) and the oracle
(GPT-4 only where Mixtral is wrong and GPT-4 right), in the same run: the GPT-4
share needed for 95% of GPT-4's accuracy, and the accuracy at 50% GPT-4 calls.
Latency: ``Router.route`` for a precomputed prompt vector (the embedding excluded).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

import numpy as np

from tokenomy.embed import CachedEmbedder, SentenceTransformerEmbedder
from tokenomy.route import ModelTable, Router

OUT = ROOT / "benchmarks" / "results" / "route_mmlu.json"
CHEAP, STRONG = "mixtral-8x7b", "gpt-4"


def load(data: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((data / "routellm" / "mmlu_responses").glob("*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        with path.open(newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for prompt, mixtral, gpt4 in reader:
                rows.append(
                    {
                        "subject": subject,
                        "prompt": prompt,
                        CHEAP: mixtral == "True",
                        STRONG: gpt4 == "True",
                    }
                )
    return rows


def split(
    rows: list[dict[str, Any]], protocol: str, seed: int = 2024
) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    if protocol == "subjects":
        subjects = sorted({r["subject"] for r in rows})
        fit_subjects = set(rng.sample(subjects, len(subjects) // 2))
        fit = [i for i, r in enumerate(rows) if r["subject"] in fit_subjects]
        return fit, [i for i, r in enumerate(rows) if r["subject"] not in fit_subjects]
    fit, test = [], []
    by_subject: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_subject.setdefault(r["subject"], []).append(i)
    for idx in by_subject.values():
        rng.shuffle(idx)
        fit += idx[: len(idx) // 2]
        test += idx[len(idx) // 2 :]
    return fit, test


def curve(p_cheap: np.ndarray, cheap: np.ndarray, strong: np.ndarray) -> list[tuple[float, float]]:
    """(GPT-4 share, accuracy) when the least likely to be right on Mixtral go to GPT-4."""
    order = np.argsort(p_cheap)  # least confident first
    n = len(order)
    base = cheap.astype(float)
    gain = (strong.astype(float) - base)[order]
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    return [(k / n, (base.sum() + cum[k]) / n) for k in range(n + 1)]


def sweep(
    router: Router,
    predicted: list[dict[str, float]],
    costs: dict[str, float],
    cheap: np.ndarray,
    strong: np.ndarray,
    knob: str,
) -> list[tuple[float, float]]:
    """(GPT-4 share, accuracy) of Router.choose's decisions over a sweep of ``knob``."""
    gaps = (
        [p[STRONG] - p[CHEAP] for p in predicted]
        if knob == "tolerance"
        else [p[CHEAP] for p in predicted]
    )
    values = np.quantile(gaps, np.linspace(0, 1, 201))
    points = []
    for v in [*values, -1.0, 2.0]:
        setting = {"quality_target": None, "tolerance": None, knob: float(np.clip(v, 0, 1))}
        if knob == "tolerance" and v < 0:
            setting["tolerance"] = 0.0
        routed = np.array([router.choose(p, costs, **setting)[0] == STRONG for p in predicted])
        acc = float(np.where(routed, strong, cheap).mean())
        points.append((float(routed.mean()), acc))
    return sorted(set(points))


def share_for(points: list[tuple[float, float]], accuracy: float) -> float | None:
    for share, acc in points:
        if acc >= accuracy:
            return share
    return None


def accuracy_at(points: list[tuple[float, float]], share: float) -> float:
    return min(points, key=lambda p: abs(p[0] - share))[1]


def run(
    protocol: str, rows: list[dict[str, Any]], vectors: np.ndarray, seed: int = 2024
) -> dict[str, Any]:
    fit, test = split(rows, protocol, seed)
    table = ModelTable.from_prices(
        {CHEAP: ("open-mixtral-8x7b", 0.68), STRONG: ("gpt-4-1106-preview", 0.81)}
    )
    router = Router(table, quality_target=None, embedder=None)
    router.fit(
        [rows[i]["prompt"] for i in fit],
        {m: [rows[i][m] for i in fit] for m in (CHEAP, STRONG)},
        vectors=vectors[fit],
    )
    predicted = [router.predict(rows[i]["prompt"], vector=vectors[i]) for i in test]
    cheap = np.array([rows[i][CHEAP] for i in test])
    strong = np.array([rows[i][STRONG] for i in test])
    costs = {m.name: m.cost_usd(500, 1) for m in table}
    ours = sweep(router, predicted, costs, cheap, strong, "tolerance")
    by_target = sweep(router, predicted, costs, cheap, strong, "quality_target")
    oracle = curve(np.where(cheap, 1.0, np.where(strong, 0.0, 0.5)), cheap, strong)
    acc_cheap, acc_strong = cheap.mean(), strong.mean()
    goal = 0.95 * acc_strong
    random_share = (goal - acc_cheap) / (acc_strong - acc_cheap)  # expected, linear
    oracle_best = max(acc for _, acc in oracle)
    times = []
    for i in test[:1000]:
        t0 = time.perf_counter()
        router.route(rows[i]["prompt"], vector=vectors[i])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "protocol": protocol,
        "fit": len(fit),
        "test": len(test),
        "accuracy_mixtral": round(float(acc_cheap), 4),
        "accuracy_gpt4": round(float(acc_strong), 4),
        "goal_95pct_of_gpt4": round(float(goal), 4),
        "gpt4_share_for_goal": {
            "tokenomy": share_for(ours, goal),
            "tokenomy_quality_target_rule": share_for(by_target, goal),
            "random": round(float(random_share), 4),
            "oracle": share_for(oracle, goal),
        },
        "accuracy_at_50pct_gpt4": {
            "tokenomy": round(accuracy_at(ours, 0.5), 4),
            "tokenomy_quality_target_rule": round(accuracy_at(by_target, 0.5), 4),
            "random": round(float(acc_cheap + 0.5 * (acc_strong - acc_cheap)), 4),
            "oracle": round(accuracy_at(oracle, 0.5), 4),
        },
        "oracle_best": round(float(oracle_best), 4),
        "oracle_share_at_best": min(sh for sh, acc in oracle if acc == max(a for _, a in oracle)),
        "curve": [(round(s, 3), round(a, 4)) for s, a in ours[:: max(1, len(ours) // 40)]],
        "route_latency_ms": {
            "p50": round(times[len(times) // 2], 3),
            "p99": round(times[int(len(times) * 0.99)], 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tokenomy-bench-embeddings"))
    parser.add_argument(
        "--seeds", default="7,99", help="other splits: GPT-4 share for the goal, per seed"
    )
    args = parser.parse_args()
    rows = load(args.data)
    embedder = CachedEmbedder(
        SentenceTransformerEmbedder(), max_items=100_000, directory=args.cache
    )
    print(f"{len(rows)} questions; embedding…", file=sys.stderr)
    vectors = np.asarray(embedder.embed([r["prompt"] for r in rows]), dtype=np.float32)
    results = [run(protocol, rows, vectors) for protocol in ("questions", "subjects")]
    for r in results:
        s, a = r["gpt4_share_for_goal"], r["accuracy_at_50pct_gpt4"]
        fmt = lambda v: "never" if v is None else f"{v:.1%}"  # noqa: E731
        goal = r["goal_95pct_of_gpt4"]
        print(
            f"\nheld-out {r['protocol']}: fit {r['fit']}, test {r['test']}; Mixtral "
            f"{r['accuracy_mixtral']:.1%}, GPT-4 {r['accuracy_gpt4']:.1%}, goal {goal:.1%}; "
            f"oracle best {r['oracle_best']:.1%} at {r['oracle_share_at_best']:.1%} GPT-4"
        )
        print(f"{'':<30}{'GPT-4 share for goal':>22}{'accuracy at 50%':>18}")
        for who in ("tokenomy", "tokenomy_quality_target_rule", "random", "oracle"):
            print(f"{who:<30}{fmt(s[who]):>22}{a[who]:>18.1%}")
        lat = r["route_latency_ms"]
        print(f"route latency (embedding excluded): p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    other = {}
    for seed in [int(x) for x in args.seeds.split(",") if x]:
        for protocol in ("questions", "subjects"):
            shares = run(protocol, rows, vectors, seed)["gpt4_share_for_goal"]
            other[f"{protocol} seed {seed}"] = shares
            print(
                f"other split, {protocol}, seed {seed}: GPT-4 share for the goal: tokenomy "
                f"{shares['tokenomy']:.1%}, quality-target rule "
                f"{shares['tokenomy_quality_target_rule']:.1%}, random {shares['random']:.1%}"
            )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"results": results, "other_splits": other}, indent=2) + "\n")


if __name__ == "__main__":
    main()
