"""Time the request pipeline adds to a call, against calling the model directly.

Command (from the repository root):
    python benchmarks/pipeline_overhead.py [--calls 2000] [--repeats 5]

Writes benchmarks/results/pipeline_overhead.json. Two front doors, each timed per
call (median of ``--repeats`` runs of ``--calls`` calls, p50 and p99 per call):

* core: ``Pipeline.run`` with a provider that returns a fixed string, against
  calling that provider directly;
* LangChain: ``OptimizedChatModel(inner=...)`` against ``inner.invoke`` on
  LangChain's ``GenericFakeChatModel`` (LangChain's own per-call machinery is in
  both, so the difference is what the pipeline adds).

Conditions: every stage off; an exact cache on a miss (a new question each call:
key, lookup, store); on a hit (the same question); and a semantic cache with the
cheap ``HashingEmbedder`` and no verifier (embedding excluded, as the issue asks:
MiniLM's own ~15 ms is measured in benchmarks/cache_latency.py). Budget on: a
SpendBudget reservation and settle per call.

Caveats: a fake model answers in microseconds; a real provider takes 100-1000x
the added time. Single process, quiet machine assumed; the ratios matter more
than the absolute numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations")]

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_tokenomy import OptimizedChatModel
from tokenomy.budget import SpendBudget
from tokenomy.cache import SemanticCache
from tokenomy.embed import HashingEmbedder
from tokenomy.pipeline import Pipeline, Request, TextCodec

OUT = ROOT / "benchmarks" / "results" / "pipeline_overhead.json"
ANSWER = "The capital of France is Paris."


def timed(fn: Callable[[int], Any], calls: int) -> list[float]:
    out = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


def measure(fn: Callable[[int], Any], calls: int, repeats: int) -> dict[str, float]:
    fn(-1)  # warm up (imports, tokenizer load)
    runs = [sorted(timed(fn, calls)) for _ in range(repeats)]
    p50 = statistics.median(r[len(r) // 2] for r in runs)
    p99 = statistics.median(r[int(len(r) * 0.99)] for r in runs)
    return {"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3}


def core_conditions() -> dict[str, Callable[[int], Any]]:
    codec = TextCodec()

    def provider(sent: Any) -> str:
        return ANSWER

    def ask(i: int, same: bool) -> Request:
        text = "What is the capital of France?" if same else f"Question number {i}?"
        return Request(messages=({"role": "user", "content": text},), model="gpt-4o-mini")

    off = Pipeline()
    exact = Pipeline(cache=SemanticCache(mode="exact"))
    semantic = Pipeline(
        cache=SemanticCache(embedder=HashingEmbedder(), verifier=None, similarity=0.99)
    )
    budget = Pipeline(budget=SpendBudget(1e9))
    exact.run(ask(0, True), provider, codec)
    return {
        "direct": lambda i: provider(None),
        "all stages off": lambda i: off.run(ask(i, False), provider, codec),
        "exact cache, miss": lambda i: exact.run(ask(i, False), provider, codec),
        "exact cache, hit": lambda i: exact.run(ask(i, True), provider, codec),
        "semantic cache (hashing embedder), miss": lambda i: semantic.run(
            ask(i, False), provider, codec
        ),
        "budget reserve + settle": lambda i: budget.run(ask(i, False), provider, codec),
    }


def langchain_conditions() -> dict[str, Callable[[int], Any]]:
    def fake() -> GenericFakeChatModel:
        reply = AIMessage(
            content=ANSWER,
            usage_metadata={"input_tokens": 14, "output_tokens": 8, "total_tokens": 22},
            response_metadata={"model_name": "gpt-4o-mini"},
        )
        return GenericFakeChatModel(messages=itertools.repeat(reply))

    inner = fake()
    off = OptimizedChatModel(inner=fake())
    exact = OptimizedChatModel(inner=fake(), cache=SemanticCache(mode="exact"))
    exact.invoke("What is the capital of France?")
    return {
        "direct": lambda i: inner.invoke(f"Question number {i}?"),
        "all stages off": lambda i: off.invoke(f"Question number {i}?"),
        "exact cache, miss": lambda i: exact.invoke(f"Question number {i}?"),
        "exact cache, hit": lambda i: exact.invoke("What is the capital of France?"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "calls": args.calls,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for door, conditions in (("core", core_conditions()), ("langchain", langchain_conditions())):
        rows = {name: measure(fn, args.calls, args.repeats) for name, fn in conditions.items()}
        base = rows["direct"]["p50_ms"]
        for row in rows.values():
            row["added_p50_ms"] = row["p50_ms"] - base
        results[door] = rows
        print(f"\n{door}: per call (median of {args.repeats} runs of {args.calls} calls)")
        print(f"{'condition':42} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10}")
        for name, row in rows.items():
            print(
                f"{name:42} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} {row['added_p50_ms']:10.3f}"
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
