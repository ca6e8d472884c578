"""Fit the default router's prior on public outcomes and write it as JSON (numbers only).

Command (from the repository root; the first run embeds 14,202 prompts with MiniLM,
cached under /tmp/tokenomy-bench-embeddings):

    PYTHONPATH=core /work/main/.venv/bin/python scripts/fit_default_router.py

Data (``../shared/eval-data``, licences in SOURCES.md), and nothing else:
``routellm/mmlu_responses`` (per-question correctness of Mixtral-8x7B-Instruct and
gpt-4-1106-preview on 14,042 MMLU questions) and ``routellm/mt_bench_judgements.jsonl``
with ``fastchat/mt_bench_question.jsonl`` (GPT-4 judge scores 1-10 of the same two models
on MT-Bench's 80 questions x 2 turns; a turn-2 prompt is both turns' questions; the
score is read as an outcome (score - 1) / 9). Task families: MMLU's four subject
groups (STEM, humanities, social sciences, other) and MT-Bench's eight categories.
Tiers: Mixtral 0.68 and GPT-4 0.81 (``QUALITY_TIERS``). Each prompt weighs the same.
The gap between tiers (``v``) reads only the family similarities (``GAP_PENALTY``): a
prompt's features and embedding probe set its difficulty, not how much the stronger
model gains on it, since which features predict that gain flips between task families
(``benchmarks/route_transfer.py`` compares both forms). The features-only fallback keeps
every term.

The interval the audit reports (``drop_ratio``) comes from leave-one-family-out on the
same data: per held-out MMLU family (MT-Bench families are too small to measure it),
the measured quality drop over the predicted one when routing at the audit's rule;
the min and max over folds.

Writes ``core/tokenomy/route/data/default_prior.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

import numpy as np  # noqa: E402

from tokenomy.route.models import QUALITY_TIERS  # noqa: E402
from tokenomy.route.prior import (  # noqa: E402
    DEFAULT_PRIOR_PATH,
    TierPrior,
    fit_tier_prior,
    prior_features,
)

WEAK, STRONG = QUALITY_TIERS["open-mixtral-8x7b"], QUALITY_TIERS["gpt-4-1106-preview"]
EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"
GAP_PENALTY = {"features": math.inf, "probe": math.inf}
"""The gap between tiers (``v``) reads the family similarities only: features and the
embedding probe set the difficulty (``u``), not who gains from the stronger model."""

MMLU_GROUPS = {
    "stem": "abstract_algebra astronomy college_biology college_chemistry "
    "college_computer_science college_mathematics college_physics computer_security "
    "conceptual_physics electrical_engineering elementary_mathematics high_school_biology "
    "high_school_chemistry high_school_computer_science high_school_mathematics "
    "high_school_physics high_school_statistics machine_learning",
    "humanities": "formal_logic high_school_european_history high_school_us_history "
    "high_school_world_history international_law jurisprudence logical_fallacies "
    "moral_disputes moral_scenarios philosophy prehistory professional_law world_religions",
    "social_sciences": "econometrics high_school_geography "
    "high_school_government_and_politics high_school_macroeconomics "
    "high_school_microeconomics high_school_psychology human_sexuality "
    "professional_psychology public_relations security_studies sociology us_foreign_policy",
    "other": "anatomy business_ethics clinical_knowledge college_medicine global_facts "
    "human_aging management marketing medical_genetics miscellaneous nutrition "
    "professional_accounting professional_medicine virology",
}
"""MMLU's subject groups (Hendrycks et al., categories.py)."""
_GROUP = {s: g for g, subjects in MMLU_GROUPS.items() for s in subjects.split()}


def load(data: Path) -> list[dict[str, Any]]:
    """Prompts with ``family``, ``weak`` and ``strong`` outcomes in [0, 1], and a
    ``cluster`` (an MT-Bench question's two turns share one)."""
    rows = []
    for path in sorted((data / "routellm" / "mmlu_responses").glob("*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        with path.open(newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for prompt, mixtral, gpt4 in reader:
                rows.append(
                    {
                        "family": f"mmlu/{_GROUP[subject]}",
                        "cluster": f"{subject}/{len(rows)}",
                        "prompt": prompt,
                        "weak": float(mixtral == "True"),
                        "strong": float(gpt4 == "True"),
                    }
                )
    questions = {}
    with (data / "fastchat" / "mt_bench_question.jsonl").open() as f:
        for line in f:
            q = json.loads(line)
            questions[q["question_id"]] = q
    scores = {}
    with (data / "routellm" / "mt_bench_judgements.jsonl").open() as f:
        for line in f:
            j = json.loads(line)
            who = "strong" if j["model"].startswith("gpt-4") else "weak"
            scores[(j["question_id"], j["turn"], who)] = (j["score"] - 1) / 9
    for qid, turn, who in sorted(scores):
        if who != "weak":
            continue
        q = questions[qid]
        prompt = q["turns"][0] if turn == 1 else q["turns"][0] + "\n\n" + q["turns"][1]
        rows.append(
            {
                "family": f"mtbench/{q['category']}",
                "cluster": f"mtbench/{qid}",
                "prompt": prompt,
                "weak": scores[(qid, turn, "weak")],
                "strong": scores[(qid, turn, "strong")],
            }
        )
    return rows


def embed(rows: list[dict[str, Any]], cache: Path) -> np.ndarray:
    from tokenomy.embed import CachedEmbedder, SentenceTransformerEmbedder

    embedder = CachedEmbedder(SentenceTransformerEmbedder(), max_items=100_000, directory=cache)
    return np.asarray(embedder.embed([r["prompt"] for r in rows]), dtype=np.float32)


def fit(
    rows: list[dict[str, Any]],
    vectors: np.ndarray | None,
    idx: np.ndarray,
    gap_penalty: dict[str, float] | None = GAP_PENALTY,
) -> TierPrior:
    """The prior fitted on the rows ``idx`` (``gap_penalty=None``: every term in ``v``,
    the prior shipped before)."""
    return fit_tier_prior(
        [rows[i]["prompt"] for i in idx],
        [rows[i]["family"] for i in idx],
        {WEAK: [rows[i]["weak"] for i in idx], STRONG: [rows[i]["strong"] for i in idx]},
        vectors=None if vectors is None else vectors[idx],
        embedder=EMBEDDER if vectors is not None else "",
        gap_penalty=gap_penalty if vectors is not None else None,
        fitted_on="RouteLLM MMLU (Mixtral-8x7B vs GPT-4) + MT-Bench judgements",
    )


def predict(
    prior: TierPrior, rows: list[dict[str, Any]], vectors: np.ndarray | None, idx: np.ndarray
) -> np.ndarray:
    """(weak, strong) predicted success of the rows ``idx``."""
    feats = np.array([prior_features(rows[i]["prompt"]) for i in idx])
    return prior.success((WEAK, STRONG), feats, None if vectors is None else vectors[idx])


def drop_ratio(
    rows: list[dict[str, Any]], vectors: np.ndarray | None, tolerance: float = 0.05
) -> tuple[float, float]:
    """Measured / predicted quality drop per held-out MMLU family, at the audit's rule
    (move to the weak model when predicted at most ``tolerance`` below the strong)."""
    families = np.array([r["family"] for r in rows])
    ratios = []
    for held in sorted(f for f in set(families) if f.startswith("mmlu/")):
        test = np.where(families == held)[0]
        prior = fit(rows, vectors, np.where(families != held)[0])
        p = predict(prior, rows, vectors, test)
        moved = p[:, 1] - p[:, 0] <= tolerance
        weak = np.array([rows[i]["weak"] for i in test])
        strong = np.array([rows[i]["strong"] for i in test])
        predicted = float(np.clip(p[moved, 1] - p[moved, 0], 0, None).sum())
        measured = float(np.clip(strong[moved] - weak[moved], 0, None).sum())
        if predicted > 0:
            ratios.append(measured / predicted)
        print(
            f"{held}: moved {moved.mean():.1%}, drop predicted "
            f"{predicted / len(test):.2%}, measured {measured / len(test):.2%}",
            file=sys.stderr,
        )
    return (round(min(ratios), 3), round(max(ratios), 3)) if ratios else (0.5, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tokenomy-bench-embeddings"))
    parser.add_argument("--out", type=Path, default=DEFAULT_PRIOR_PATH)
    args = parser.parse_args()
    rows = load(args.data)
    vectors = embed(rows, args.cache)
    everything = np.arange(len(rows))
    light = fit(rows, None, everything)
    light = replace(light, drop_ratio=drop_ratio(rows, None))
    prior = fit(rows, vectors, everything)
    prior = replace(prior, drop_ratio=drop_ratio(rows, vectors), fallback=light)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(prior.to_json() + "\n")
    print(
        f"wrote {args.out}: {len(rows)} prompts, {len(prior.families)} families, "
        f"drop ratio {prior.drop_ratio}"
    )


if __name__ == "__main__":
    main()
