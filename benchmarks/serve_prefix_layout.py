"""The prefix-hit share of provider prompt caching on the bundled audit sample, as sent
and with the gateway's ``prefix_layout`` (``tokenomy.serve.layout``).

Command (from the repository root):
    python benchmarks/serve_prefix_layout.py

Writes benchmarks/results/serve_prefix_layout.json. Two workloads:

- ``sample``: the bundled sample (``examples/workloads/sample.jsonl.gz``) as it is;
- ``sample, stamped``: the same calls with a line many apps put at the top of their
  system prompt, ``Current time: <the call's time>`` and ``Request id: <an id>``
  (constructed here to show what the layout undoes; not observed in the sample).

For each, the audit's ``prefix_layout`` plug-in: each call's cached prefix is the
longest prefix (tools, then messages) it shares with a call to the same model used
within 300 s, counted in o200k tokens when it reaches 1,024 (in steps of 128, as
OpenAI caches); the share is cached tokens over all input tokens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations")]

from tokenomy.audit.core import audit_calls, sample_workload_path
from tokenomy.audit.ledger_source import load_source
from tokenomy.audit.workload import Workload

OUT = ROOT / "benchmarks" / "results" / "serve_prefix_layout.json"


def stamped(workload: Workload) -> Workload:
    calls = []
    for c in workload.calls:
        messages = list(c.messages or ())
        if messages and messages[0].get("role") == "system":
            at = dt.datetime.fromtimestamp(c.timestamp or 0, dt.timezone.utc).isoformat()
            rid = uuid.uuid5(uuid.NAMESPACE_URL, c.id)
            head = f"Current time: {at}\nRequest id: {rid}\n"
            messages[0] = {**messages[0], "content": head + str(messages[0].get("content"))}
        calls.append(dataclasses.replace(c, messages=tuple(messages)))
    return dataclasses.replace(workload, calls=tuple(calls))


def main() -> None:
    sample = load_source(sample_workload_path())
    results = {}
    print(
        f"{'workload':18} {'calls':>6} {'as sent':>8} {'laid out':>9} "
        f"{'gain calls':>11} {'$ saved':>8}"
    )
    for name, workload in (("sample", sample), ("sample, stamped", stamped(sample))):
        (estimate,) = audit_calls(workload, plugins=["prefix_layout"], top=0).savings
        sent = 100 * estimate.metrics["prefix_hit_share_as_sent"]
        laid = 100 * estimate.metrics["prefix_hit_share_laid_out"]
        results[name] = {
            "calls": len(workload.calls),
            "prefix_hit_share_as_sent": round(sent / 100, 4),
            "prefix_hit_share_laid_out": round(laid / 100, 4),
            "calls_gaining": estimate.calls_affected,
            "usd_saved": round(estimate.cost_saved_usd, 6),
        }
        print(
            f"{name:18} {len(workload.calls):>6} {sent:>7.1f}% {laid:>8.1f}% "
            f"{estimate.calls_affected:>11} {estimate.cost_saved_usd:>8.4f}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
