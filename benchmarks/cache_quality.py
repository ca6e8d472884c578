"""Semantic-cache hit quality: tokenomy against the peer caches, same MiniLM, one run.

Command (from the repository root, with the test extras and the peers installed:
``pip install redisvl gptcache faiss-cpu`` and ``pip install --no-deps langchain-redis==0.2.6``):
    python benchmarks/cache_quality.py [--sample 2000] [--data ../shared/eval-data]

Writes benchmarks/results/cache_quality.json. Three measurements:

1. **Pairwise, QQP held-out** (the split of scripts/fit_cache_verifier.py: whole
   connected groups of questions, none seen in fitting; 23,687 pairs, 8,692
   duplicates). Each pair alone in a cache: store text_a, look up text_b. A hit on a
   duplicate pair is correct, a hit on a non-duplicate is a false hit. For tokenomy
   each pair gets its own scope (so its partition holds only text_a); raw cosine
   thresholds are the baseline. The label ceiling beside it: the share of held-out
   pairs with the same text (up to case, spaces, ``?.,!`` and quotes) or cosine >=
   0.97/0.98/0.99 that QQP labels duplicate: label noise no verifier can score past.
2. **One shared cache, QQP held-out sample** (``--sample`` pairs, seeded): every
   system stores all the sampled text_a, then looks up every text_b through its real
   API (the peers over the same Redis Stack server). A hit is correct only when it
   returns the answer of the query's own text_a and the pair is a duplicate; every
   other hit is a false hit (an answer to another question).
3. **GPTCache's mock_data.json** (999 ChatGPT paraphrase pairs, positives only):
   store every ``origin``, look up every ``similar``: hit rate and correct-hit rate.

Peers: LangChain ``InMemoryCache`` (exact), RedisVL ``SemanticCache``, langchain-redis
``RedisSemanticCache`` (driven as a chat model drives it: the key is LangChain's
JSON prompt) and GPTCache (faiss + SQLite), at their default thresholds and at
cosine 0.90 and 0.95 (benchmarks/cache_peers.py converts a cosine to each one's own
scale). Caveat: QQP labels are noisy; see the README.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "tests" / "_support"), str(ROOT / "benchmarks")]

from cache_peers import build_peers

from tokenomy.cache import Answer, SemanticCache
from tokenomy.embed import default_embedder

OUT = ROOT / "benchmarks" / "results" / "cache_quality.json"
EMB_CACHE = Path("/tmp/tokenomy-cache-verifier-emb")
_SAME_TEXT = re.compile(r"[\s?.,!'\"]+")
# (peer, cosine similarity, label); None = the peer's own default
PEER_SETTINGS: list[tuple[str, float, str]] = [
    ("langchain-inmemory", 1.0, "exact"),
    ("redisvl-semantic", 0.90, "default (distance 0.1)"),
    ("redisvl-semantic", 0.95, "cosine 0.95"),
    ("langchain-redis-semantic", 0.80, "default (distance 0.2)"),
    ("langchain-redis-semantic", 0.95, "cosine 0.95"),
    ("gptcache", 0.60, "default (similarity_threshold 0.8)"),
    ("gptcache", 0.90, "cosine 0.90"),
]


def _fit_module() -> Any:
    spec = importlib.util.spec_from_file_location("fit", ROOT / "scripts" / "fit_cache_verifier.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def prf(correct: int, hits: int, positives: int) -> dict[str, float]:
    return {
        "precision": correct / hits if hits else 0.0,
        "recall": correct / positives if positives else 0.0,
        "hits": hits,
        "correct_hits": correct,
        "false_hits": hits - correct,
    }


def pairwise(pairs: list[tuple[str, str, int]], vec: dict[str, np.ndarray]) -> dict[str, Any]:
    y = np.array([label for _, _, label in pairs])
    cos = np.array([float(vec[a] @ vec[b]) for a, b, _ in pairs])
    out: dict[str, Any] = {}
    for t in (0.90, 0.95):
        hit = cos >= t
        out[f"raw cosine >= {t:.2f}"] = prf(
            int((hit & (y == 1)).sum()), int(hit.sum()), int(y.sum())
        )
    cache = SemanticCache()
    start = time.perf_counter()
    hits = correct = 0
    for i, (a, b, label) in enumerate(pairs):
        scope = f"pair-{i}"
        cache.store(a, Answer(payload=str(i), text="x"), scope=scope)
        if cache.lookup(b, scope=scope) is not None:
            hits += 1
            correct += label
    out["tokenomy (default)"] = prf(correct, hits, int(y.sum()))
    out["tokenomy (default)"]["seconds"] = time.perf_counter() - start
    return out


def label_ceiling(pairs: list[tuple[str, str, int]], vec: dict[str, np.ndarray]) -> dict[str, Any]:
    """How often QQP labels near-identical pairs "not duplicate": label noise that caps
    any verifier's measured precision. "Same text" ignores only case, spaces and
    ``? . , ! ' "`` (so "C++" and "C" stay different)."""
    same = [
        label
        for a, b, label in pairs
        if _SAME_TEXT.sub("", a.lower()) == _SAME_TEXT.sub("", b.lower())
    ]
    cos = np.array([float(vec[a] @ vec[b]) for a, b, _ in pairs])
    y = np.array([label for _, _, label in pairs])
    out: dict[str, Any] = {
        "same_text": {"pairs": len(same), "labelled_duplicate": sum(same) / max(len(same), 1)}
    }
    for lo in (0.99, 0.98, 0.97):
        hit = cos >= lo
        out[f"cosine >= {lo:.2f}"] = {
            "pairs": int(hit.sum()),
            "labelled_duplicate": float(y[hit].mean()),
        }
    return out


def shared(systems: list[tuple[str, Any]], pairs: list[tuple[str, str, int]]) -> dict[str, Any]:
    positives = sum(label for _, _, label in pairs)
    out = {}
    for name, system in systems:
        for i, (a, _, _) in enumerate(pairs):
            system.store(a, f"A{i}")
        hits = correct = 0
        start = time.perf_counter()
        for i, (_, b, label) in enumerate(pairs):
            answer = system.lookup(b)
            if answer is not None:
                hits += 1
                correct += answer == f"A{i}" and label == 1
        out[name] = {**prf(correct, hits, positives), "seconds": time.perf_counter() - start}
        print(f"  shared {name}: {out[name]}", flush=True)
    return out


def mock(systems: list[tuple[str, Any]], items: list[dict[str, str]]) -> dict[str, Any]:
    out = {}
    for name, system in systems:
        for i, item in enumerate(items):
            system.store(item["origin"], f"M{i}")
        hits = correct = 0
        for i, item in enumerate(items):
            answer = system.lookup(item["similar"])
            if answer is not None:
                hits += 1
                correct += answer == f"M{i}"
        out[name] = {
            "queries": len(items),
            "hit_rate": hits / len(items),
            "correct_hit_rate": correct / len(items),
            "wrong_hits": hits - correct,
        }
        print(f"  mock {name}: {out[name]}", flush=True)
    return out


class Ours:
    """tokenomy's SemanticCache with the peer adapter surface."""

    def __init__(self) -> None:
        self.cache = SemanticCache()

    def store(self, question: str, answer: str) -> None:
        self.cache.store(question, Answer(payload=answer, text=answer))

    def lookup(self, question: str) -> str | None:
        hit = self.cache.lookup(question)
        return None if hit is None else hit.payload

    def clear(self) -> None:
        self.cache.clear()

    def close(self) -> None:
        pass


def systems_for(redis_url: str | None, emb: Any) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    systems: list[tuple[str, Any]] = [("tokenomy (default)", Ours())]
    skipped: dict[str, str] = {}
    for peer, similarity, label in PEER_SETTINGS:
        built, why = build_peers(
            emb.embed, redis_url=redis_url, similarity=similarity, names=[peer]
        )
        skipped.update(why)
        systems += [(f"{peer} {label}", p) for p in built]
    return systems, skipped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    args = parser.parse_args()
    fit = _fit_module()
    pairs = fit.load_qqp(args.data / "gptcache" / "similiar_qqp_full.json.tar.gz")
    held, _ = fit.split(pairs)
    held_pairs = [p for p, h in zip(pairs, held, strict=True) if h]
    items = json.loads((args.data / "gptcache" / "mock_data.json").read_text())
    texts = sorted(
        {t for a, b, _ in held_pairs for t in (a, b)}
        | {x for it in items for x in (it["origin"], it["similar"])}
    )
    emb = default_embedder()
    print(f"embedding {len(texts):,} texts (cached under {EMB_CACHE})", flush=True)
    vectors = fit.embed_all(texts, EMB_CACHE)
    emb.prime(texts, vectors)
    vec = dict(zip(texts, vectors, strict=True))

    print("1. pairwise on the held-out split", flush=True)
    results: dict[str, Any] = {"pairwise_qqp_held_out": pairwise(held_pairs, vec)}
    for name, row in results["pairwise_qqp_held_out"].items():
        print(f"  {name}: {row}", flush=True)
    results["label_ceiling_qqp_held_out"] = label_ceiling(held_pairs, vec)
    print(f"  label ceiling: {results['label_ceiling_qqp_held_out']}", flush=True)

    sample = random.Random(0).sample(held_pairs, min(args.sample, len(held_pairs)))
    from redis_server import RedisStackServer

    with RedisStackServer() as server:
        systems, skipped = systems_for(server.url, emb)
        print(f"2. one shared cache, {len(sample)} held-out pairs; skipped: {skipped}", flush=True)
        results["shared_cache_qqp_sample"] = shared(systems, sample)
        for _, system in systems:
            system.clear()
        print(f"3. mock_data.json, {len(items)} paraphrase pairs", flush=True)
        results["mock_data"] = mock(systems, items)
        for _, system in systems:
            system.close()
    results["skipped"] = skipped
    results["sizes"] = {
        "held_out_pairs": len(held_pairs),
        "held_out_duplicates": sum(p[2] for p in held_pairs),
        "shared_sample": len(sample),
        "mock_pairs": len(items),
    }

    print(f"\n{'system':48} {'pairwise P/R':>14} {'shared P/R':>14} {'mock hit/correct':>17}")
    names = list(results["shared_cache_qqp_sample"])
    for name in ["raw cosine >= 0.90", "raw cosine >= 0.95", *names]:
        pw = results["pairwise_qqp_held_out"].get(name)
        sh = results["shared_cache_qqp_sample"].get(name)
        mk = results["mock_data"].get(name)
        cell = lambda r: f"{r['precision']:.3f}/{r['recall']:.3f}" if r else "-"  # noqa: E731
        mcell = f"{mk['hit_rate']:.3f}/{mk['correct_hit_rate']:.3f}" if mk else "-"
        print(f"{name:48} {cell(pw):>14} {cell(sh):>14} {mcell:>17}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "cache_quality", **results}, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
