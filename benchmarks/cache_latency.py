"""Semantic-cache lookup latency without the query embedding, by tier and size.

Command (from the repository root; Redis needs the test extras, see README):
    python benchmarks/cache_latency.py [--sizes 10000,100000,1000000] [--redis-size 100000]
                                       [--queries 1000]

Writes benchmarks/results/cache_latency.json. Entries are random unit vectors
(384-d, MiniLM's size) in one partition, which is the worst case for HNSW recall
and for the scan; queries are half noisy copies of stored vectors (cosine ~0.9,
like paraphrases) and half fresh random vectors (misses). Query vectors are
precomputed, so the time is `SemanticCache.lookup` minus the embedding: key
normalization, exact lookup, vector search, guards and verifier on candidates.
For L1 it also times the raw numpy scan against the HNSW index at each size, which
is how the scan/HNSW switch point (ANN_THRESHOLD) was chosen. Percentiles, not means.

Caveats: random vectors rarely pass the verifier, so most lookups are misses that
examine all 5 candidates (the expensive path). On a 2-core machine, p99 is
sensitive to other load; numbers are from an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "tests" / "_support")]

from tokenomy.cache import CacheEntry, MemoryTier, RedisTier, SemanticCache
from tokenomy.cache.cache import _entry_id
from tokenomy.embed.vectors import VectorGroup

OUT = ROOT / "benchmarks" / "results" / "cache_latency.json"
DIM = 384


class Precomputed:
    """An embedder that looks vectors up by text (no model in the timed path)."""

    name, dim = "precomputed", DIM

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(cache: SemanticCache, tier, vectors: np.ndarray, batch: int = 10_000) -> float:
    start = time.perf_counter()
    for i in range(len(vectors)):
        text = f"stored question {i}"
        key = cache.key(text)
        tier.put(
            CacheEntry(
                id=_entry_id(key),
                partition=key.partition,
                context=key.context,
                query=text,
                vector=vectors[i],
                payload=f"answer {i}",
                model="gpt-4o",
                input_tokens=30,
                output_tokens=60,
            )
        )
    return time.perf_counter() - start


def time_lookups(
    cache: SemanticCache, emb: Precomputed, stored: np.ndarray, n: int, rng: np.random.Generator
) -> dict[str, float]:
    idx = rng.integers(0, len(stored), n // 2)
    near = stored[idx] + 0.35 * unit(rng, len(idx)) / np.sqrt(1.0)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    queries = np.concatenate([near, unit(rng, n - len(idx))])
    texts = [f"query {i}" for i in range(n)]
    emb.vectors.update(zip(texts, queries, strict=True))
    for t in texts[:20]:  # warm-up
        cache.lookup(t)
    times = []
    for t in texts:
        t0 = time.perf_counter()
        cache.lookup(t)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "p50_ms": times[len(times) // 2] * 1e3,
        "p99_ms": times[int(len(times) * 0.99)] * 1e3,
        "mean_ms": statistics.fmean(times) * 1e3,
        "queries": n,
    }


def scan_vs_hnsw(vectors: np.ndarray, rng: np.random.Generator, n: int = 300) -> dict[str, float]:
    """The same vectors in a scanned group and in an HNSW group (built in one batch)."""
    scan = VectorGroup(DIM, ann_threshold=len(vectors) + 1)
    hnsw = VectorGroup(DIM, ann_threshold=len(vectors) - 1)
    for i, v in enumerate(vectors[:-1]):
        scan.add(str(i), v)
        hnsw.add(str(i), v)
    last = str(len(vectors) - 1)
    scan.add(last, vectors[-1])
    t0 = time.perf_counter()
    hnsw.add(last, vectors[-1])  # crosses the threshold: the HNSW index is built here
    build = time.perf_counter() - t0
    queries = vectors[rng.integers(0, len(vectors), n)] + 0.35 * unit(rng, n)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    out: dict[str, float] = {"hnsw_build_s": build}
    truth = [scan.search(q, 1)[0][0] for q in queries]
    for name, group in (("scan", scan), ("hnsw", hnsw)):
        times = []
        found = []
        for q in queries:
            t0 = time.perf_counter()
            top = group.search(q, 5)
            times.append(time.perf_counter() - t0)
            found.append(top[0][0])
        times.sort()
        out[f"{name}_p50_ms"] = times[len(times) // 2] * 1e3
        out[f"{name}_p99_ms"] = times[int(len(times) * 0.99)] * 1e3
        out[f"{name}_top1_agreement"] = sum(a == b for a, b in zip(found, truth, strict=True)) / n
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--redis-size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        emb = Precomputed()
        tier = MemoryTier(max_bytes=2**40)
        cache = SemanticCache(tiers=[tier], embedder=emb)
        stored = unit(rng, size)
        fill_s = fill(cache, tier, stored)
        row = {
            "tier": "memory",
            "entries": size,
            "fill_s": fill_s,
            **time_lookups(cache, emb, stored, args.queries, rng),
        }
        if size <= 100_000:
            row.update(scan_vs_hnsw(stored, rng))
        rows.append(row)
        print(json.dumps(row), flush=True)
        del cache, tier, stored
    if args.redis_size:
        from redis_server import RedisStackServer

        with RedisStackServer() as server:
            emb = Precomputed()
            tier = RedisTier(server.url, timeout_s=5.0)
            cache = SemanticCache(tiers=[tier], embedder=emb)
            stored = unit(rng, args.redis_size)
            fill_s = fill(cache, tier, stored)
            time.sleep(2)  # let RediSearch finish indexing
            row = {
                "tier": "redis",
                "entries": args.redis_size,
                "fill_s": fill_s,
                **time_lookups(cache, emb, stored, args.queries, rng),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        f"\n{'tier':7} {'entries':>9} {'p50 ms':>8} {'p99 ms':>8} {'scan p50/p99':>14} "
        f"{'hnsw p50/p99':>14} {'hnsw top-1':>10}"
    )
    for r in rows:
        scan = f"{r['scan_p50_ms']:.2f}/{r['scan_p99_ms']:.2f}" if "scan_p50_ms" in r else "-"
        hnsw = f"{r['hnsw_p50_ms']:.2f}/{r['hnsw_p99_ms']:.2f}" if "hnsw_p50_ms" in r else "-"
        agree = f"{r['hnsw_top1_agreement']:.3f}" if "hnsw_top1_agreement" in r else "-"
        print(
            f"{r['tier']:7} {r['entries']:>9,} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
            f"{scan:>14} {hnsw:>14} {agree:>10}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "benchmark": "cache_latency",
                "rows": rows,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            indent=1,
        )
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
