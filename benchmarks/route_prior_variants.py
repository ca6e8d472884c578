"""Which terms the default prior's tier gap ``v`` may read: variants, and a nested choice.

Command (from the repository root):
    PYTHONPATH=core /work/main/.venv/bin/python benchmarks/route_prior_variants.py

Writes benchmarks/results/route_prior_variants.json. Data, families and folds as in
``route_transfer.py``. Variants of ``fit_tier_prior(..., gap_penalty=...)``:

- ``all``: every term in ``v`` (the previous default);
- ``features_probe_300``: features and embedding probe in ``v`` under a ridge penalty
  of 300 (100x the rest);
- ``families``: ``v`` reads the family similarities only (the shipped default);
- ``families_0.3``: the same with the family terms penalised 0.3;
- ``bias``: ``v`` constant (the gap follows the difficulty ``u`` only).

``outer``: each variant's APGR on each held-out family (the comparison the shipped form
was chosen from: a choice made on these folds). ``nested``: per held-out MMLU family, the
variant with the highest worst-group APGR in an inner leave-one-group-out over the
training families only (each training MMLU group, and MT-Bench pooled, held out in turn),
and its APGR on the held-out family: the honest version of that choice.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

import numpy as np
from _route_eval import apgr
from fit_default_router import embed, fit, load, predict

OUT = ROOT / "benchmarks" / "results" / "route_prior_variants.json"
INF = math.inf
VARIANTS: dict[str, dict[str, float] | None] = {
    "all": None,
    "features_probe_300": {"features": 300.0, "probe": 300.0},
    "families": {"features": INF, "probe": INF},
    "families_0.3": {"features": INF, "probe": INF, "families": 0.3},
    "bias": {"features": INF, "probe": INF, "families": INF},
}


def score(
    rows: list[dict[str, Any]],
    vectors: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    variant: str,
) -> float | None:
    p = predict(fit(rows, vectors, train, gap_penalty=VARIANTS[variant]), rows, vectors, test)
    weak = np.array([rows[i]["weak"] for i in test])
    strong = np.array([rows[i]["strong"] for i in test])
    value = apgr(p[:, 1] - p[:, 0], weak, strong)
    return None if value is None else round(value, 4)


def main() -> None:
    rows = load(ROOT.parent / "shared" / "eval-data")
    vectors = embed(rows, Path("/tmp/tokenomy-bench-embeddings"))
    families = np.array([r["family"] for r in rows])
    groups = np.array([f if f.startswith("mmlu/") else "mtbench" for f in families])
    outer: dict[str, dict[str, float | None]] = {}
    for held in sorted(set(families)):
        gap = np.mean([r["strong"] - r["weak"] for r in rows if r["family"] == held])
        if abs(gap) < 0.02:
            continue
        train, test = np.where(families != held)[0], np.where(families == held)[0]
        outer[held] = {v: score(rows, vectors, train, test, v) for v in VARIANTS}
        print(held, outer[held], flush=True)
    nested: dict[str, dict[str, Any]] = {}
    for held in sorted(f for f in set(families) if f.startswith("mmlu/")):
        train = np.where(families != held)[0]
        inner: dict[str, dict[str, float | None]] = {}
        for g in sorted(set(groups[train])):
            tr, te = train[groups[train] != g], train[groups[train] == g]
            inner[g] = {v: score(rows, vectors, tr, te, v) for v in VARIANTS}
        worst = {v: min(inner[g][v] or 0.0 for g in inner) for v in VARIANTS}
        pick = max(worst, key=lambda v: worst[v])
        nested[held] = {"inner": inner, "worst": worst, "pick": pick, "apgr": outer[held][pick]}
        print(held, "nested pick", pick, "->", outer[held][pick], flush=True)
    OUT.write_text(json.dumps({"outer": outer, "nested": nested}, indent=1) + "\n")


if __name__ == "__main__":
    main()
