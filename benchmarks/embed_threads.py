"""Query-embedding latency of the default embedder with 1 and 2 torch threads,
on an idle machine and with the other core busy.

Command (from the repository root):
    python benchmarks/embed_threads.py [--queries 50]

Writes benchmarks/results/embed_threads.json. This is the measurement behind
``DEFAULT_EMBED_THREADS = 1`` (tokenomy/embed/embedders.py): on these 2-core
machines torch's second thread helps an idle machine a little and collapses when
anything else runs. "loaded" runs a busy-loop process on the side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))

from tokenomy.embed import SentenceTransformerEmbedder

OUT = ROOT / "benchmarks" / "results" / "embed_threads.json"
QUERY = "How do I reset my password on the Acme Cloud dashboard?"


def measure(threads: int, queries: int) -> dict[str, float]:
    emb = SentenceTransformerEmbedder(threads=threads)
    batch = [f"{QUERY} variant {i}" for i in range(64)]
    for _ in range(5):
        emb.embed([QUERY])
    single = []
    for _ in range(queries):
        t = time.perf_counter()
        emb.embed([QUERY])
        single.append(time.perf_counter() - t)
    batches = []
    for _ in range(5):
        t = time.perf_counter()
        emb.embed(batch)
        batches.append(time.perf_counter() - t)
    single.sort()
    return {
        "threads": threads,
        "single_p50_ms": statistics.median(single) * 1e3,
        "single_p99_ms": single[int(len(single) * 0.99)] * 1e3,
        "batch64_ms": statistics.median(batches) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rows = []
    for load in ("idle", "loaded"):
        busy = None
        if load == "loaded":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for threads in (1, 2):
                rows.append({"machine": load, **measure(threads, args.queries)})
        finally:
            if busy is not None:
                busy.kill()
    print(f"{'machine':8} {'threads':>7} {'p50 ms':>8} {'p99 ms':>8} {'batch of 64 ms':>15}")
    for r in rows:
        print(
            f"{r['machine']:8} {r['threads']:>7} {r['single_p50_ms']:>8.1f} "
            f"{r['single_p99_ms']:>8.1f} {r['batch64_ms']:>15.0f}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "embed_threads", "rows": rows}, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
