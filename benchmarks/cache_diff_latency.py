"""Time of the difference-aware verifier's check per candidate, embedding excluded.

Command (from the repository root, with the local extra installed):
    python benchmarks/cache_diff_latency.py [--repeats 3]

Writes benchmarks/results/cache_diff_latency.json. Every contrast-set pair (both halves;
nothing is fitted here) is checked ``--repeats`` times with precomputed MiniLM vectors
and a cold word-list cache for each check (the word vectors stay loaded, as in a running
cache). Percentiles in ms: the rules, the alignment, the word similarity, the QQP trees
when no rule refuses, and the logistic score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.cache.diff_verifier import DiffVerifier
from tokenomy.cache.differences import words
from tokenomy.embed import default_embedder

DATA = ROOT / "benchmarks" / "data" / "cache_contrast.jsonl"
OUT = ROOT / "benchmarks" / "results" / "cache_diff_latency.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [json.loads(x) for x in DATA.read_text("utf-8").splitlines() if x]
    texts = sorted({t for r in rows for t in (r["a"], r["b"])})
    vec = dict(zip(texts, default_embedder().embed(texts), strict=True))
    v = DiffVerifier.default()
    for r in rows:  # load the word vectors and warm their cache
        v.check(r["b"], r["a"], vec[r["b"]], vec[r["a"]])
    times = []
    for _ in range(args.repeats):
        for r in rows:
            words.cache_clear()
            start = time.perf_counter()
            v.check(r["b"], r["a"], vec[r["b"]], vec[r["a"]])
            times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    out = {
        "benchmark": "cache_diff_latency",
        "checks": len(times),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p90_ms": round(float(np.percentile(ms, 90)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
    }
    print(json.dumps(out))
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
