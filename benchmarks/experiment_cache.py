"""An experiment on the sample workload: the semantic cache on (treatment) or off
(control), users split by a stable hash, and the report's verdict.

    python benchmarks/experiment_cache.py

Writes benchmarks/results/experiment_cache.jsonl (the ExperimentLog, not kept in git:
re-read it with ``tokenomy experiments report benchmarks/results/experiment_cache.jsonl``)
and benchmarks/results/experiment_cache.json (the report).

The 1,119 calls of the sample week are replayed in time order. Each user is assigned
to a variant by ``Experiment("semantic-cache").assign(user)``. A treatment call
first asks a SemanticCache (the default: MiniLM embeddings, guards and verifier,
one cache shared by the treatment users, keyed by model); a hit costs nothing and
serves the stored answer; a miss costs what the call cost (counted tokens at the
bundled prices) and stores the call's recorded answer. Control calls always cost
what they cost. The quality signal stands in for user feedback: the word-overlap
F1 between the answer served and the answer the model gave to this very prompt
(1.0 for every real call; lower when a cached answer of another prompt is served).
The sample records no latency, so none is reported.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.audit import load_workload, sample_workload_path
from tokenomy.budget import Experiment, ExperimentLog, experiment_report
from tokenomy.cache import Answer, SemanticCache
from tokenomy.tokens import PriceTable, TokenCounter, TokenUsage

RESULTS = ROOT / "benchmarks" / "results"
LOG = RESULTS / "experiment_cache.jsonl"
WORD = re.compile(r"\w+")


def f1(a: str, b: str) -> float:
    x, y = Counter(WORD.findall(a.lower())), Counter(WORD.findall(b.lower()))
    common = sum((x & y).values())
    if not x or not y:
        return float(x == y)
    if not common:
        return 0.0
    p, r = common / sum(x.values()), common / sum(y.values())
    return 2 * p * r / (p + r)


def main() -> None:
    prices, counters = PriceTable.default(), {}
    experiment = Experiment("semantic-cache", unit="user")
    cache = SemanticCache(share_across_scopes=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.unlink(missing_ok=True)
    log = ExperimentLog(LOG)
    hits = Counter()
    for call in sorted(load_workload(sample_workload_path()).calls, key=lambda c: c.timestamp):
        counter = counters.setdefault(call.model, TokenCounter(call.model))
        usage = TokenUsage(
            counter.count_messages(list(call.messages or ())), counter.count(call.response or "")
        )
        cost = prices.cost(call.model, usage).total_usd
        variant = experiment.assign_labels(call.tags)
        served, tokens, spent = call.response or "", usage, cost
        if variant == "treatment":
            prompt = list(call.messages or ())
            hit = cache.lookup(prompt, llm=call.model)
            if hit is not None:
                served, tokens, spent = hit.payload, TokenUsage(0, 0), 0.0
                hits[hit.kind] += 1
            else:
                answer = Answer(payload=served, text=served, model=call.model, usage=usage)
                cache.store(prompt, answer, llm=call.model)
        log.record(
            experiment,
            variant,
            request_id=call.id,
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            cost_usd=spent,
            at=call.timestamp,
        )
        log.feedback(call.id, f1(served, call.response or ""))
    report = experiment_report(log, "semantic-cache")
    print(report)
    print(f"cache hits in the treatment arm: {dict(hits)}")
    (RESULTS / "experiment_cache.json").write_text(
        json.dumps(
            {
                "hits": dict(hits),
                "variants": [v.__dict__ for v in report.variants],
                "comparisons": [c.__dict__ for c in report.comparisons],
                "verdicts": dict(report.verdicts),
            },
            indent=2,
            default=dict,
        )
    )
    print(f"wrote {LOG.relative_to(ROOT)} and benchmarks/results/experiment_cache.json")


if __name__ == "__main__":
    main()
