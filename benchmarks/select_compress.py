"""Example compression (the seed's EXAMPLE_COMPRESSION) on few-shot QA demonstrations.

Command (from the repository root):
    python benchmarks/select_compress.py [--pool 1000] [--queries 200] [--budget 600] [--seed 1]

Demonstrations are NaturalQuestions questions with their gold passage and answer
(../shared/eval-data/lost_in_the_middle/nq-open-oracle), formatted as
``Context: ...\\nQ: ...\\nA: ...``; a seeded draw of ``--pool`` of them is the pool and
``--queries`` other questions are the inputs. Each condition builds an
``ExampleSelector`` (bundled MiniLM, default strategy, ``--budget`` tokens) with the
passages shown whole or shortened by ``ExampleCompression(["context"], ratio=R)``, and
reports: tokens per demonstration, the share of demonstrations whose passage still holds
their answer (exact substring: the rule the compression enforces; and normalized), the
fields left whole to keep their answer, compression time per example, and per input the
demonstrations that fit the budget and the share of them that hold their answer. The
time per example is the selector's build (embedding, and compressing) after a warm-up;
the 0.25 row reuses embeddings the 0.4 row cached.
Nothing here was tuned: the ratios are the seed's 0.4 and a stronger 0.25, min_tokens
the default. What this does not measure: whether a model answers better with more,
shorter demonstrations (it needs a model stronger than the bundled SmolLM2-135M).

Writes benchmarks/results/select_compress.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import time
from pathlib import Path
from typing import Any

from tokenomy.compress import ExtractiveCompressor
from tokenomy.select import ExampleCompression, ExampleSelector

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "eval-data" / "lost_in_the_middle" / "nq-open-oracle.jsonl.gz"
OUT = ROOT / "benchmarks" / "results" / "select_compress.json"
FORMAT = "Context: {context}\nQ: {question}\nA: {answer}"


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load(n_pool: int, n_queries: int, seed: int) -> tuple[list[dict[str, str]], list[str]]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    usable = [
        {"context": it["ctxs"][0]["text"], "question": it["question"], "answer": a}
        for it in items
        for a in it["answers"][:1]
        if a in it["ctxs"][0]["text"]  # demonstrations whose passage quotes the answer
    ]
    random.Random(seed).shuffle(usable)
    pool = usable[:n_pool]
    queries = [e["question"] for e in usable[n_pool : n_pool + n_queries]]
    return pool, queries


def run(
    pool: list[dict[str, str]], queries: list[str], ratio: float | None, budget: int
) -> dict[str, Any]:
    compression = (
        ExampleCompression(["context"], ExtractiveCompressor(), ratio=ratio)
        if ratio is not None
        else None
    )
    started = time.perf_counter()
    selector = ExampleSelector(
        pool, input_keys=["question"], formatter=FORMAT, max_tokens=budget, compress=compression
    )
    build_s = time.perf_counter() - started
    shown = selector.examples
    holds = [e["answer"] in e["context"] for e in shown]
    holds_norm = [norm(e["answer"]) in norm(e["context"]) for e in shown]
    counts, holding = [], []
    for q in queries:
        picked = selector.select({"question": q}).examples
        counts.append(len(picked))
        holding.extend(e["answer"] in e["context"] for e in picked)
    return {
        "ratio": ratio,
        "tokens_per_example": round(statistics.mean(selector.cost(e) for e in shown), 1),
        "answer_kept_exact": round(sum(holds) / len(holds), 4),
        "answer_kept_normalized": round(sum(holds_norm) / len(holds_norm), 4),
        "fields_compressed": compression.compressed if compression else 0,
        "kept_whole_to_keep_answer": compression.kept_whole if compression else 0,
        "ms_per_example_build": round(build_s * 1000 / len(pool), 2),
        "demos_per_input_mean": round(statistics.mean(counts), 2),
        "demos_per_input_median": statistics.median(counts),
        "shown_demos_holding_answer": round(sum(holding) / max(len(holding), 1), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pool, queries = load(args.pool, args.queries, args.seed)
    warm = ExampleCompression(["context"], ExtractiveCompressor())  # loads MiniLM, untimed
    for example in load(5, 0, args.seed + 1000)[0]:
        warm.apply(example)
    rows = [run(pool, queries, ratio, args.budget) for ratio in (None, 0.4, 0.25)]
    header = (
        f"{'passages':<10} {'tok/demo':>8} {'answer kept':>11} {'kept whole':>10} "
        f"{'ms/demo':>8} {'demos/input':>11} {'shown w/ answer':>15}"
    )
    print(f"pool {len(pool)} NQ demonstrations, {len(queries)} inputs, budget {args.budget}")
    print(header)
    print("-" * len(header))
    for r in rows:
        name = "whole" if r["ratio"] is None else f"ratio {r['ratio']}"
        print(
            f"{name:<10} {r['tokens_per_example']:>8} {r['answer_kept_exact']:>11.1%} "
            f"{r['kept_whole_to_keep_answer']:>10} {r['ms_per_example_build']:>8} "
            f"{r['demos_per_input_mean']:>11} {r['shown_demos_holding_answer']:>15.1%}"
        )
    OUT.write_text(
        json.dumps(
            {
                "command": "python benchmarks/select_compress.py "
                f"--pool {args.pool} --queries {args.queries} --budget {args.budget} "
                f"--seed {args.seed}",
                "load_average": [round(x, 1) for x in os.getloadavg()],
                "pool": len(pool),
                "queries": len(queries),
                "budget": args.budget,
                "rows": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
