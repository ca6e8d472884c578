"""Fit the compressor's default segment scorer on NaturalQuestions contexts.

Command (from the repository root; the first run embeds the contexts with MiniLM,
about 10 minutes on 2 cores, cached under /tmp; the fit takes a minute):

    /work/venv/bin/python scripts/fit_compress_scorer.py [--questions 560] [--no-write]

Writes ``core/tokenomy/compress/data/scorer.json`` (fitted numbers only) and
``benchmarks/results/compress_scorer_fit.json``.

Data: the contexts of ``benchmarks/compress_nq.py`` (each question's gold passage among
19 random or 19 TF-IDF-related others), built for the "fit" half of the questions
outside the benchmark's tuning draw (``compress_nq.outside_draw``): no question the
benchmark reports (its held-out slice, its ``--fresh`` set) is fitted on. A segment's
label is whether it contains an answer string.

Model: two scikit-learn HistGradientBoostingClassifiers, exported as plain trees:
``pre`` on the features known before embedding (it picks what to embed), then
``final`` on all features of the segments as the fitted ``pre`` chose to embed them.
Each context is featurized at two budgets (ratio 0.4, and 0.2, which also stands for
0.1 and 0.05: the embedded share is the same below 0.2). The script then compares, on
the benchmark's tuning slice (the first 300 questions of its draw), the share of
answers kept by the fitted scorer and by the hand-set linear ``Weights``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _boosted import export_trees

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "benchmarks")]

import compress_nq as nq  # noqa: E402

from tokenomy._trees import Trees  # noqa: E402
from tokenomy.compress import ExtractiveCompressor, Weights  # noqa: E402
from tokenomy.compress.learned import SegmentScorer  # noqa: E402
from tokenomy.embed import CachedEmbedder, SentenceTransformerEmbedder  # noqa: E402

OUT_WEIGHTS = ROOT / "core/tokenomy/compress/data/scorer.json"
OUT_RESULTS = ROOT / "benchmarks/results/compress_scorer_fit.json"
DATA = ROOT.parent / "shared/eval-data/lost_in_the_middle/nq-open-oracle.jsonl.gz"
PRE = (
    "lexical",
    "information",
    "position",
    "answer_type",
    "query_entity",
    "document_lexical",
    "lead",
    "lead_similarity",
    "tokens",
    "index_in_document",
    "has_date",
    "has_number",
    "new_names",
    "document_lexical_rank",
    "ask_when",
    "ask_who",
    "ask_where",
    "ask_how_many",
    "ask_what",
    "ask_other",
)
FINAL = (
    *PRE,
    "relevance",
    "similarity",
    "embedded",
    "neighbour",
    "document",
    "document_rank",
)
FIT_RATIOS = (0.4, 0.2)
RATIOS = (0.4, 0.2, 0.1, 0.05)
TUNING = 300
CONFIG = {"max_iter": 300, "learning_rate": 0.05, "max_depth": 3, "random_state": 0}


def featurize(
    compressor: ExtractiveCompressor, cases: list[dict[str, Any]], names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (``names`` order) and labels of every segment, at each fit ratio."""
    xs, ys = [], []
    for case in cases:
        original = nq.count("\n\n".join(case["documents"]))
        for ratio in FIT_RATIOS:
            items, columns = compressor._features(
                case["documents"], case["question"], int(original * ratio)
            )
            xs.append(np.column_stack([columns[n] for n in names]))
            ys.append([nq.has_answer(it.segment.text, case["answers"]) for it in items])
    return np.vstack(xs), np.concatenate(ys).astype(int)


def fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    """Fitted trees as plain numbers, checked against scikit-learn's own scores."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**CONFIG).fit(x, y)
    exported = export_trees(model, names)
    ours = Trees.from_dict(exported).logits(x[:2000])
    gap = float(np.max(np.abs(ours - model.decision_function(x[:2000]))))
    if gap > 1e-4:
        raise SystemExit(f"exported trees disagree with scikit-learn by {gap}")
    return exported


def kept(compressor: ExtractiveCompressor, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of answers kept per setting and ratio."""
    out: dict[str, dict[str, float]] = {}
    for setting in ("random", "related"):
        subset = [c for c in cases if c["setting"] == setting]
        for ratio in RATIOS:
            hits = sum(
                nq.has_answer(
                    compressor.compress(c["documents"], query=c["question"], ratio=ratio).text,
                    c["answers"],
                )
                for c in subset
            )
            out.setdefault(setting, {})[str(ratio)] = hits / len(subset)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=560, help="fit questions used")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/tokenomy-compress-fit-emb"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.time()
    embedder = CachedEmbedder(SentenceTransformerEmbedder(), directory=args.cache_dir)
    data, fit_ids, _ = nq.outside_draw(DATA)
    cases = nq.cases_for(data, fit_ids[: args.questions], random.Random(2))
    linear = ExtractiveCompressor(embedder=embedder, weights=Weights())
    x, y = featurize(linear, cases, PRE)  # pre-embedding features do not depend on the scorer
    pre = fit(x, y, PRE)
    print(f"pre: {x.shape[0]} segments, {y.mean():.3%} hold an answer", flush=True)
    staged = SegmentScorer(Trees.from_dict(pre), Trees.from_dict(pre), embedder.name)
    x, y = featurize(ExtractiveCompressor(embedder=embedder, scorer=staged), cases, FINAL)
    final = fit(x, y, FINAL)
    scorer = SegmentScorer(Trees.from_dict(pre), Trees.from_dict(final), embedder.name)
    print(f"final fitted ({time.time() - started:.0f} s); on the tuning slice:", flush=True)
    tuning = nq.build(DATA, nq.DRAW, 0)[: 2 * TUNING]
    results = {
        "learned": kept(ExtractiveCompressor(embedder=embedder, scorer=scorer), tuning),
        "linear Weights()": kept(linear, tuning),
    }
    print(f"\n{'scorer':18} {'setting':8} " + " ".join(f"{r:>6}" for r in RATIOS))
    for name, by_setting in results.items():
        for setting, row in by_setting.items():
            print(f"{name:18} {setting:8} " + " ".join(f"{row[str(r)]:>6.1%}" for r in RATIOS))
    meta = {
        "data": "nq-open-oracle (Lost in the Middle), compress_nq.outside_draw fit half",
        "questions": args.questions,
        "segments": int(x.shape[0]),
        "positives": int(y.sum()),
        "config": CONFIG,
        "ratios": FIT_RATIOS,
    }
    if not args.no_write:
        OUT_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        OUT_WEIGHTS.write_text(
            json.dumps(
                {
                    "format": "tokenomy-segment-scorer/1 (boosted trees)",
                    "model": embedder.name,
                    "pre": pre,
                    "final": final,
                    "fit": meta,
                },
                separators=(",", ":"),
            )
        )
        print(f"wrote {OUT_WEIGHTS.relative_to(ROOT)}")
    OUT_RESULTS.write_text(
        json.dumps({"fit": meta, "tuning_questions": TUNING, "answer_kept": results}, indent=1)
    )
    print(f"wrote {OUT_RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
