"""The semantic cache's error bound under a stream with a known share of traps.

Command (from the repository root, with the local extra installed):
    python benchmarks/cache_error_bound.py [--lookups 3000] [--seed 0]

Writes benchmarks/results/cache_error_bound.json. The cache stores every ``a``
question of the contrast set's test half (benchmarks/data/cache_contrast.jsonl,
never fitted on) in one scope, then sees a stream of ``b`` questions: a share
``minimal_share`` (10%, 30%, 50%) from minimal pairs (a small edit that changes the
answer), the rest paraphrases, drawn with repetition. A semantic hit is right when the
stored question it returns is labelled a paraphrase of the query in the contrast set;
anything else is a wrong hit. The simulated app reports wrong hits with
``cache.feedback(hit.hit_id, correct=False)``: all of them, or a random half.

A reported wrong hit is never served again for that question, so repeats of a
trap stop at once; the second stream tests the threshold itself, with no repeats:
``qqp``: the text_a of 3,000 QQP held-out pairs (scripts/fit_cache_verifier.py's
split, seeded sample with a ``minimal_share`` of non-duplicates) stored in one scope,
each text_b looked up once in random order; a hit is right only when it returns its
own partner and the pair is labelled duplicate (hits to other stored questions count
as wrong: conservative, QQP does not label them).

For each ``max_error`` (None = the verifier's own threshold, 0.05, 0.01) it reports
the measured wrong-hit share (wrong / semantic hits), the hit rate, and the cache's
own estimate (``stats().error_estimate``). The bound holds when the measured share
stays at or under ``max_error``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.cache import Answer, SemanticCache
from tokenomy.embed import default_embedder

DATA = ROOT / "benchmarks" / "data" / "cache_contrast.jsonl"
OUT = ROOT / "benchmarks" / "results" / "cache_error_bound.json"


def run(
    rows: list[dict[str, Any]],
    *,
    max_error: float | None,
    minimal_share: float,
    report_share: float,
    lookups: int,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    right = {(r["b"], r["a"]) for r in rows if r["same"]} | {
        (r["a"], r["b"]) for r in rows if r["same"]
    }
    cache = SemanticCache(max_error=max_error)
    for q in sorted({r["a"] for r in rows}):
        cache.store(q, Answer(payload=q, text=q), scope="app")
    minimal = [r for r in rows if not r["same"]]
    para = [r for r in rows if r["same"]]
    hits = wrong = exact = 0
    for _ in range(lookups):
        r = rng.choice(minimal if rng.random() < minimal_share else para)
        hit = cache.lookup(r["b"], scope="app")
        if hit is None:
            continue
        if hit.kind == "exact":
            exact += 1
            continue
        hits += 1
        if (r["b"], hit.payload) not in right:
            wrong += 1
            if rng.random() < report_share:
                cache.feedback(hit.hit_id, correct=False)
    stats = cache.stats()
    return {
        "max_error": max_error,
        "minimal_share": minimal_share,
        "reported_share": report_share,
        "lookups": lookups,
        "semantic_hits": hits,
        "exact_hits": exact,
        "wrong_hits": wrong,
        "wrong_share": round(wrong / hits, 4) if hits else 0.0,
        "hit_rate": round(hits / lookups, 4),
        "bound_held": max_error is None or (wrong / hits if hits else 0.0) <= max_error,
        "estimate": dict(stats.error_estimate),
    }


def qqp_stream(
    pairs: list[tuple[str, str, int]],
    *,
    max_error: float | None,
    minimal_share: float,
    report_share: float,
    n: int,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    dup = [p for p in pairs if p[2] == 1]
    non = [p for p in pairs if p[2] == 0]
    n_non = int(n * minimal_share)
    chosen = rng.sample(non, n_non) + rng.sample(dup, n - n_non)
    rng.shuffle(chosen)
    cache = SemanticCache(max_error=max_error)
    for i, (a, _, _) in enumerate(chosen):
        cache.store(a, Answer(payload=str(i), text=a), scope="app")
    hits = wrong = 0
    for i, (_, b, label) in enumerate(chosen):
        hit = cache.lookup(b, scope="app")
        if hit is None or hit.kind == "exact":
            continue
        hits += 1
        if hit.payload != str(i) or label == 0:
            wrong += 1
            if rng.random() < report_share:
                cache.feedback(hit.hit_id, correct=False)
    return {
        "stream": "qqp",
        "max_error": max_error,
        "minimal_share": minimal_share,
        "reported_share": report_share,
        "lookups": n,
        "semantic_hits": hits,
        "wrong_hits": wrong,
        "wrong_share": round(wrong / hits, 4) if hits else 0.0,
        "hit_rate": round(hits / n, 4),
        "bound_held": max_error is None or (wrong / hits if hits else 0.0) <= max_error,
        "estimate": dict(cache.stats().error_estimate),
    }


def _qqp_held_out(data: Path) -> list[tuple[str, str, int]]:
    """The held-out pairs, with their embeddings primed from benchmarks/cache_quality.py's
    disk cache (the same text list, so it is reused when present)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit", ROOT / "scripts" / "fit_cache_verifier.py")
    fit = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(fit)  # type: ignore[union-attr]
    pairs = fit.load_qqp(data / "gptcache" / "similiar_qqp_full.json.tar.gz")
    held, _ = fit.split(pairs)
    held_pairs = [p for p, h in zip(pairs, held, strict=True) if h]
    items = json.loads((data / "gptcache" / "mock_data.json").read_text())
    texts = sorted(
        {t for a, b, _ in held_pairs for t in (a, b)}
        | {x for it in items for x in (it["origin"], it["similar"])}
    )
    default_embedder().prime(texts, fit.embed_all(texts, Path("/tmp/tokenomy-cache-verifier-emb")))
    return held_pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--qqp", type=int, default=3000, help="QQP stream length (0: skip)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    args = parser.parse_args()
    rows = [json.loads(x) for x in DATA.read_text("utf-8").splitlines() if x]
    rows = [r for r in rows if r["split"] == "test"]
    default_embedder().embed(sorted({t for r in rows for t in (r["a"], r["b"])}))  # warm
    out = []
    print(
        f"{'max_error':>9} {'minimal':>8} {'reported':>9} {'hits':>6} {'wrong':>6} "
        f"{'wrong share':>12} {'hit rate':>9} {'held':>5}"
    )
    for share in (0.1, 0.3, 0.5):
        for report in (1.0, 0.5):
            for bound in (None, 0.05, 0.01):
                row = run(
                    rows,
                    max_error=bound,
                    minimal_share=share,
                    report_share=report,
                    lookups=args.lookups,
                    seed=args.seed,
                )
                out.append({"stream": "contrast", **row})
                print(
                    f"{bound!s:>9} {share:>8.0%} {report:>9.0%} {row['semantic_hits']:>6} "
                    f"{row['wrong_hits']:>6} {row['wrong_share']:>12.4f} {row['hit_rate']:>9.3f} "
                    f"{row['bound_held']!s:>5}",
                    flush=True,
                )
    if args.qqp:
        held = _qqp_held_out(args.data)
        print(f"qqp stream: {args.qqp} held-out pairs, each looked up once")
        for share in (0.3, 0.5):
            for report in (1.0, 0.5):
                for bound in (None, 0.05, 0.01):
                    row = qqp_stream(
                        held,
                        max_error=bound,
                        minimal_share=share,
                        report_share=report,
                        n=args.qqp,
                        seed=args.seed,
                    )
                    out.append(row)
                    print(
                        f"{bound!s:>9} {share:>8.0%} {report:>9.0%} {row['semantic_hits']:>6} "
                        f"{row['wrong_hits']:>6} {row['wrong_share']:>12.4f} "
                        f"{row['hit_rate']:>9.3f} {row['bound_held']!s:>5}",
                        flush=True,
                    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "cache_error_bound", "rows": out}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
