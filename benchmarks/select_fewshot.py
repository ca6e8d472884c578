"""Few-shot selection on SST-2 and TREC: tokens spent, label coverage, vote accuracy.

Command (from the repository root):
    python benchmarks/select_fewshot.py [--queries 500] [--split test]

Writes benchmarks/results/select_fewshot.json. The pool is each dataset's training
set (SST-2: 6,920 reviews; TREC: 5,452 questions, coarse labels); the queries are a
seeded sample of its test set (``--split dev`` uses SST-2's dev set and TREC's last
500 training questions, held out of the pool, for tuning). Every method uses the
same MiniLM and the same costing: each example rendered by its prompt
("Review: …\\nSentiment: …" / "Question: …\\nType: …"), counted with o200k, plus one
token between examples. Methods, in one run:

* tokenomy ``ExampleSelector`` with its defaults (``diverse_minimal``), given 60% of
  the tokens LangChain's similarity selector spends on the same query as
  ``max_tokens``, and, as a fixed setting, 60% of its mean; the ``relevance`` and
  ``mmr`` strategies with the per-query budget;
* LangChain ``SemanticSimilarityExampleSelector`` (k=4), ``MaxMarginalRelevanceExampleSelector``
  (k=4, fetch_k=20), ``LengthBasedExampleSelector`` (max_length=60 words), random k=4.

Vote accuracy: the majority label of the selected examples (ties go to the first
ranked; an empty selection is wrong), a proxy for how much the examples help.
Latency: our selection for a precomputed query vector (the query embedding excluded).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations")]

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.example_selectors import (
    LengthBasedExampleSelector,
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
)
from langchain_core.prompts import PromptTemplate
from langchain_core.vectorstores import InMemoryVectorStore

from tokenomy.embed import CachedEmbedder, SentenceTransformerEmbedder
from tokenomy.select import ExampleSelector
from tokenomy.tokens import TokenCounter

OUT = ROOT / "benchmarks" / "results" / "select_fewshot.json"
SST_LABELS = {"0": "negative", "1": "positive"}
TEMPLATES = {
    "sst2": "Review: {text}\nSentiment: {label}",
    "trec": "Question: {text}\nType: {label}",
}
COUNTER = TokenCounter("gpt-4o")
SHARE = 0.6  # of the similarity selector's tokens: the ceiling


def load(data: Path, name: str, split: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(pool, queries) as dicts with "text" and "label"."""
    if name == "sst2":

        def read(f: str) -> list[dict[str, str]]:
            rows = (
                line.split(" ", 1) for line in (data / "fewshot/sst2" / f).read_text().splitlines()
            )
            return [{"text": t.strip(), "label": SST_LABELS[lab]} for lab, t in rows]

        pool = read("stsa.binary.train")
        return pool, read("stsa.binary.dev" if split == "dev" else "stsa.binary.test")

    def read_trec(f: str) -> list[dict[str, str]]:
        rows = (
            line.split(" ", 1)
            for line in (data / "fewshot/trec" / f).read_text(encoding="latin-1").splitlines()
        )
        return [{"text": t.strip(), "label": lab.split(":")[0]} for lab, t in rows]

    train = read_trec("train.txt")
    if split == "dev":
        return train[:-500], train[-500:]
    return train, read_trec("test.txt")


class MiniLM(Embeddings):
    def __init__(self, embedder: CachedEmbedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def cost(examples: list[dict[str, Any]], template: str) -> int:
    return sum(COUNTER.count(template.format(**e)) + 1 for e in examples)


def vote(examples: list[dict[str, Any]]) -> str | None:
    if not examples:
        return None
    counts = Counter(e["label"] for e in examples)
    top = max(counts.values())
    return next(e["label"] for e in examples if counts[e["label"]] == top)  # ties: first ranked


def run_dataset(
    name: str, args: argparse.Namespace, embedder: CachedEmbedder
) -> list[dict[str, Any]]:
    pool, queries = load(args.data, name, args.split)
    queries = random.Random(11).sample(queries, min(args.queries, len(queries)))
    template = TEMPLATES[name]
    labels = sorted({e["label"] for e in pool})
    print(
        f"{name}: pool {len(pool)}, {len(queries)} queries, {len(labels)} labels; embedding…",
        file=sys.stderr,
    )
    embedder.embed([e["text"] for e in pool] + [q["text"] for q in queries])
    ours = {
        strategy: ExampleSelector(
            pool,
            input_keys=["text"],
            label_key="label",
            formatter=template,
            strategy=strategy,
            embedder=embedder,
        )
        for strategy in ("diverse_minimal", "relevance", "mmr")
    }
    prompt = PromptTemplate.from_template(template)
    sim = SemanticSimilarityExampleSelector.from_examples(
        pool, MiniLM(embedder), InMemoryVectorStore, k=4, input_keys=["text"]
    )
    mmr = MaxMarginalRelevanceExampleSelector.from_examples(
        pool, MiniLM(embedder), InMemoryVectorStore, k=4, fetch_k=20, input_keys=["text"]
    )
    length = LengthBasedExampleSelector(examples=pool, example_prompt=prompt, max_length=60)
    rng = random.Random(5)
    # the similarity selector's spend per query sets our budgets
    sim_tokens = {
        q["text"]: cost(sim.select_examples({"text": q["text"]}), template) for q in queries
    }
    fixed = int(SHARE * statistics.mean(sim_tokens.values()))

    def ours_per_query(strategy: str) -> Any:
        def select(q: dict[str, str]) -> list[Any]:
            budget = max(1, int(SHARE * sim_tokens[q["text"]]))
            return list(ours[strategy].select(q, max_tokens=budget).examples)

        return select

    methods: dict[str, Any] = {
        "tokenomy default, 60% of sim-k4 per query": ours_per_query("diverse_minimal"),
        f"tokenomy default, fixed {fixed} tokens": lambda q: list(
            ours["diverse_minimal"].select(q, max_tokens=fixed).examples
        ),
        "tokenomy relevance, 60% per query": ours_per_query("relevance"),
        "tokenomy mmr, 60% per query": ours_per_query("mmr"),
        "LangChain similarity k=4": lambda q: sim.select_examples({"text": q["text"]}),
        "LangChain MMR k=4": lambda q: mmr.select_examples({"text": q["text"]}),
        "LangChain length-based (60 words)": lambda q: length.select_examples({"text": q["text"]}),
        "random k=4": lambda q: rng.sample(pool, 4),
    }
    rows = []
    for method, fn in methods.items():
        tokens, covered, correct = [], [], 0
        for q in queries:
            chosen = [dict(e) for e in fn({"text": q["text"]})]
            tokens.append(cost(chosen, template))
            covered.append(len({e["label"] for e in chosen}))
            correct += vote(chosen) == q["label"]
        rows.append(
            {
                "dataset": name,
                "method": method,
                "tokens_mean": round(statistics.mean(tokens), 1),
                "labels_mean": round(statistics.mean(covered), 2),
                "vote_accuracy": round(correct / len(queries), 4),
            }
        )
    base = next(r for r in rows if r["method"] == "LangChain similarity k=4")
    for r in rows:
        r["tokens_vs_similarity"] = round(r["tokens_mean"] / base["tokens_mean"], 3)
    # latency of our default, query embedding excluded, on this pool
    selector = ours["diverse_minimal"]
    vectors = embedder.embed([q["text"] for q in queries])
    times = []
    for q, v in zip(queries, vectors, strict=True):
        t0 = time.perf_counter()
        selector.select_by_vector(v, max_tokens=fixed, text=q["text"])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    rows.append(
        {
            "dataset": name,
            "method": "latency_ms",
            "pool": len(pool),
            "p50": round(times[len(times) // 2], 3),
            "p99": round(times[int(len(times) * 0.99)], 3),
        }
    )
    return rows


def latency_only(name: str, args: argparse.Namespace, embedder: CachedEmbedder) -> str:
    """Our default's selection latency alone (no peers), for a quiet-machine re-measure."""
    pool, queries = load(args.data, name, args.split)
    queries = random.Random(11).sample(queries, min(args.queries, len(queries)))
    selector = ExampleSelector(
        pool,
        input_keys=["text"],
        label_key="label",
        formatter=TEMPLATES[name],
        embedder=embedder,
        max_tokens=60,
    )
    vectors = embedder.embed([q["text"] for q in queries])
    selector.select_by_vector(vectors[0])  # embeds the pool
    times = []
    for q, v in zip(queries, vectors, strict=True):
        t0 = time.perf_counter()
        selector.select_by_vector(v, text=q["text"])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    return f"{name}: pool {len(pool)}, p50 {p50:.3f} ms, p99 {p99:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tokenomy-bench-embeddings"))
    parser.add_argument("--latency-only", action="store_true", help="time our selector only")
    args = parser.parse_args()
    embedder = CachedEmbedder(
        SentenceTransformerEmbedder(), max_items=100_000, directory=args.cache
    )
    if args.latency_only:
        for name in ("sst2", "trec"):
            print(latency_only(name, args, embedder))
        return
    rows = [r for name in ("sst2", "trec") for r in run_dataset(name, args, embedder)]
    print(f"{'dataset':<6} {'method':<44}{'tokens':>8}{'vs sim':>8}{'labels':>8}{'vote acc':>10}")
    for r in rows:
        if r["method"] == "latency_ms":
            pool, p50, p99 = r["pool"], r["p50"], r["p99"]
            print(f"{r['dataset']:<6} selection latency, pool {pool}: p50 {p50} ms, p99 {p99} ms")
            continue
        print(
            f"{r['dataset']:<6} {r['method']:<44}{r['tokens_mean']:>8}"
            f"{r['tokens_vs_similarity']:>8.2f}{r['labels_mean']:>8}{r['vote_accuracy']:>10.1%}"
        )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps({"split": args.split, "queries": args.queries, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    np.random.seed(0)
    main()
