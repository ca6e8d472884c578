"""Semantic-cache hit quality: tokenomy against the peer caches, same MiniLM, one run.

Command (from the repository root, with the test extras and the peers installed:
``pip install redisvl gptcache faiss-cpu`` and ``pip install --no-deps langchain-redis==0.2.6``):
    python benchmarks/cache_quality.py [--sample 2000] [--data ../shared/eval-data]

Writes benchmarks/results/cache_quality.json. Four measurements:

0. **Contrast set, test half** (benchmarks/data/cache_contrast.jsonl; nothing was
   fitted on it): each pair alone in a cache, store ``a``, look up ``b``. The share
   of paraphrases served (want >= 60%) and of answer-changing minimal pairs served
   (want <= 2%), by kind, and the refusals by reason.

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
   other hit is a false hit. Those are split: ``partner_not_duplicate`` (its own
   text_a, labelled different) and ``other_question`` (another stored question,
   which QQP does not label: some are duplicates too, so ``precision_own`` counts
   precision over the hits that returned the query's own partner).
3. **GPTCache's mock_data.json** (999 ChatGPT paraphrase pairs, positives only):
   store every ``origin``, look up every ``similar``: hit rate and correct-hit rate.

tokenomy runs with its default verifier (``diff``, difference-aware), with the
earlier default (``verifier="qqp"``) and with ``max_error=0.01``; raw cosine
thresholds 0.90/0.95 are the baseline in every measurement.

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
CONTRAST = ROOT / "benchmarks" / "data" / "cache_contrast.jsonl"
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("tokenomy (default: diff verifier)", {}),
    ("tokenomy (verifier='qqp', earlier default)", {"verifier": "qqp"}),
    ("tokenomy (max_error=0.01)", {"max_error": 0.01}),
]
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
    for name, kwargs in VARIANTS:
        cache = SemanticCache(**kwargs)
        start = time.perf_counter()
        hits = correct = 0
        for i, (a, b, label) in enumerate(pairs):
            scope = f"pair-{i}"
            cache.store(a, Answer(payload=str(i), text="x"), scope=scope)
            if cache.lookup(b, scope=scope) is not None:
                hits += 1
                correct += label
        out[name] = prf(correct, hits, int(y.sum()))
        out[name]["seconds"] = time.perf_counter() - start
    return out


def contrast(rows: list[dict[str, Any]], vec: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each test-half pair alone in a cache: store a, look up b."""
    same = np.array([bool(r["same"]) for r in rows])
    kinds = sorted({str(r["kind"]) for r in rows})
    cos = np.array([float(vec[r["a"]] @ vec[r["b"]]) for r in rows])
    served_by: dict[str, np.ndarray] = {f"raw cosine >= {t:.2f}": cos >= t for t in (0.90, 0.95)}
    rejected: dict[str, Any] = {}
    for name, kwargs in VARIANTS:
        cache = SemanticCache(**kwargs)
        served = []
        for i, r in enumerate(rows):
            cache.store(r["a"], Answer(payload=str(i), text="x"), scope=f"pair-{i}")
            served.append(cache.lookup(r["b"], scope=f"pair-{i}") is not None)
        served_by[name] = np.array(served)
        rejected[name] = dict(sorted(cache.stats().rejected.items()))
    out: dict[str, Any] = {}
    for name, hit in served_by.items():
        out[name] = {
            "paraphrases_served": round(float(hit[same].mean()), 4),
            "minimal_pairs_served": round(float(hit[~same].mean()), 4),
            "served_by_kind": {
                k: f"{int(hit[m].sum())}/{int(m.sum())}"
                for k in kinds
                for m in [np.array([r["kind"] == k for r in rows])]
            },
            "rejected": rejected.get(name, {}),
        }
    out["sizes"] = {
        "pairs": len(rows),
        "paraphrases": int(same.sum()),
        "minimal": int((~same).sum()),
    }
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
        hits = correct = partner_bad = 0
        start = time.perf_counter()
        for i, (_, b, label) in enumerate(pairs):
            answer = system.lookup(b)
            if answer is not None:
                hits += 1
                correct += answer == f"A{i}" and label == 1
                partner_bad += answer == f"A{i}" and label == 0
        out[name] = {
            **prf(correct, hits, positives),
            "partner_not_duplicate": partner_bad,
            "other_question": hits - correct - partner_bad,
            "precision_own": correct / (correct + partner_bad) if correct + partner_bad else 0.0,
            "seconds": time.perf_counter() - start,
        }
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

    def __init__(self, **kwargs: Any) -> None:
        self.cache = SemanticCache(**kwargs)

    def store(self, question: str, answer: str) -> None:
        self.cache.store(question, Answer(payload=answer, text=answer))

    def lookup(self, question: str) -> str | None:
        hit = self.cache.lookup(question)
        return None if hit is None else hit.payload

    def clear(self) -> None:
        self.cache.clear()

    def close(self) -> None:
        pass


class RawCosine:
    """The nearest stored question if its cosine reaches ``threshold``: the baseline."""

    def __init__(self, emb: Any, threshold: float) -> None:
        self.emb, self.threshold = emb, threshold
        self.vectors: list[np.ndarray] = []
        self.answers: list[str] = []

    def store(self, question: str, answer: str) -> None:
        self.vectors.append(self.emb.embed([question])[0])
        self.answers.append(answer)

    def lookup(self, question: str) -> str | None:
        if not self.vectors:
            return None
        sims = np.stack(self.vectors) @ self.emb.embed([question])[0]
        best = int(np.argmax(sims))
        return self.answers[best] if sims[best] >= self.threshold else None

    def clear(self) -> None:
        self.vectors, self.answers = [], []

    def close(self) -> None:
        pass


def systems_for(redis_url: str | None, emb: Any) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    systems: list[tuple[str, Any]] = [(name, Ours(**kwargs)) for name, kwargs in VARIANTS]
    systems += [(f"raw cosine >= {t:.2f}", RawCosine(emb, t)) for t in (0.90, 0.95)]
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
    rows = [json.loads(line) for line in CONTRAST.read_text("utf-8").splitlines() if line]
    test_rows = [r for r in rows if r["split"] == "test"]
    texts = sorted(
        {t for a, b, _ in held_pairs for t in (a, b)}
        | {x for it in items for x in (it["origin"], it["similar"])}
    )
    contrast_texts = sorted({t for r in test_rows for t in (r["a"], r["b"])})
    emb = default_embedder()
    print(f"embedding {len(texts):,} texts (cached under {EMB_CACHE})", flush=True)
    vectors = fit.embed_all(texts, EMB_CACHE)
    emb.prime(texts, vectors)
    vec = dict(zip(texts, vectors, strict=True))
    vec.update(zip(contrast_texts, emb.embed(contrast_texts), strict=True))

    print("0. contrast set, test half", flush=True)
    results: dict[str, Any] = {"contrast_test": contrast(test_rows, vec)}
    for name, row in results["contrast_test"].items():
        print(f"  {name}: {row}", flush=True)
    print("1. pairwise on the held-out split", flush=True)
    results["pairwise_qqp_held_out"] = pairwise(held_pairs, vec)
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

    print(
        f"\n{'system':48} {'contrast P/M':>13} {'pairwise P/R':>14} {'shared P/R':>14} "
        f"{'mock hit/correct':>17}"
    )
    names = list(results["shared_cache_qqp_sample"])
    for name in names:
        ct = results["contrast_test"].get(name)
        ccell = f"{ct['paraphrases_served']:.3f}/{ct['minimal_pairs_served']:.3f}" if ct else "-"
        pw = results["pairwise_qqp_held_out"].get(name)
        sh = results["shared_cache_qqp_sample"].get(name)
        mk = results["mock_data"].get(name)
        cell = lambda r: f"{r['precision']:.3f}/{r['recall']:.3f}" if r else "-"  # noqa: E731
        mcell = f"{mk['hit_rate']:.3f}/{mk['correct_hit_rate']:.3f}" if mk else "-"
        print(f"{name:48} {ccell:>13} {cell(pw):>14} {cell(sh):>14} {mcell:>17}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "cache_quality", **results}, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
