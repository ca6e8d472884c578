"""How `tokenomy audit` scales: wall time and peak memory at 10k, 100k (and 1M) calls, and
how close the sampled model-heavy columns come to the exact ones.

Command (from the repository root):
    python benchmarks/audit_scale.py [--sizes 10000,100000] [--plugins all|exact_cache,...]
        [--distinct]
        [--coverage 10000 --seeds 5 --sample-calls 2000 [--draws 300]]

Writes benchmarks/results/audit_scale.json. Each size is a synthetic workload grown from
the bundled sample (its 1,119 calls repeated in order with new ids and timestamps shifted
by a week per round, written gzipped to a temporary folder), audited in a fresh process
(`tokenomy audit FILE --no-html --only PLUGINS --json ...`); peak memory is the child's max
RSS. By default every column runs: beyond the sampling threshold (20,000 calls) the
model-heavy ones (semantic cache, compression, few-shot) are estimated on a stratified
sample of about 5,000 calls with a 95% interval.

``--coverage N`` audits the N-call workload once with ``--exact`` and once per seed on a
sample (``--sample-above 0 --sample-calls S``, ``TOKENOMY_AUDIT__SEED``), and counts how
often each sampled column's and the combined estimate's interval holds the exact value.
``--draws D`` then checks the sampling design alone on D draws (``--draws-column``,
default compression): the column measured exactly once in this process, each draw's
estimate and interval from those per-call savings.

``--distinct`` grows the workloads with :func:`grow_distinct` instead: every question and
answer distinct from one round of the sample to the next (what a production log looks
like), so nothing the audit remembers per distinct text helps.

Caveats: a repeated sample shares its system prompts, documents and answers far more
than most real logs (the cache columns find most rounds' calls repeated, and MiniLM
embeds each distinct text once), and the audit keeps one copy of each repeated text, so
memory on a log of distinct texts grows with the text it holds.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "workloads" / "sample.jsonl.gz"
OUT = ROOT / "benchmarks" / "results" / "audit_scale.json"
DEFAULT_PLUGINS = "all"
WEEK = 7 * 86400


def grow(n: int, path: Path) -> None:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        for i in range(n):
            call = json.loads(lines[i % len(lines)])
            call["id"] = f"syn-{i}"
            _shift(call, i // len(lines))
            out.write(json.dumps(call) + "\n")


_WORDS = [
    "alpha",
    "amber",
    "bridge",
    "cedar",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "jasper",
    "kestrel",
    "lagoon",
    "maple",
    "nectar",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "timber",
    "umber",
    "velvet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "account",
    "invoice",
    "cluster",
    "dataset",
    "endpoint",
    "notebook",
    "quota",
    "region",
    "replica",
    "token",
    "upload",
    "webhook",
    "billing",
    "refund",
    "latency",
    "timeout",
    "storage",
    "member",
    "project",
    "schedule",
]


def _variant(text: str, key: str) -> str:
    """``text`` with a clause of its own: words drawn from a seed of ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    words = " ".join(rng.choice(_WORDS) for _ in range(6))
    return f"{text} (case {digest.hex()[:10]}: {words})"


def grow_distinct(n: int, path: Path, seed: int = 0) -> None:
    """``n`` calls grown from the sample whose questions and answers are all distinct
    across rounds: every user and assistant message, and the response, gets a clause of
    its own, keyed on (seed, round, original text), so the calls of one conversation in
    one round still share their earlier turns (as a real conversation's calls do) while
    no text repeats from one round to the next. System prompts stay shared (a real app
    sends one system prompt per feature)."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        for i in range(n):
            call = json.loads(lines[i % len(lines)])
            round_ = i // len(lines)
            call["id"] = f"dis-{i}"
            _shift(call, round_)
            for m in call.get("messages") or []:
                if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str):
                    m["content"] = _variant(m["content"], f"{seed}:{round_}:{m['content']}")
            if isinstance(call.get("response"), str):
                call["response"] = _variant(call["response"], f"{seed}:{round_}:{call['response']}")
            out.write(json.dumps(call) + "\n")


def _shift(call: dict[str, Any], round_: int) -> None:
    if isinstance(call.get("timestamp"), str) and round_:
        t = datetime.fromisoformat(call["timestamp"].replace("Z", "+00:00"))
        call["timestamp"] = (t + timedelta(seconds=round_ * WEEK)).isoformat()


def audit(path: Path, plugins: str, *flags: str, seed: int = 0) -> dict[str, Any]:
    """One audit in a fresh process: its wall time, peak memory and JSON report."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENOMY_AUDIT__SEED": str(seed),
    }
    only = [] if plugins == "all" else ["--only", plugins]
    with tempfile.TemporaryDirectory() as tmp:
        out_json, err_file = Path(tmp) / "report.json", Path(tmp) / "stderr.txt"
        load_before = os.getloadavg()[0]  # the machine is shared: how busy it was
        start = time.perf_counter()
        with err_file.open("w") as err:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tokenomy", "audit", str(path), "--no-html"),
                    *("--no-progress", "--json", str(out_json), *only, *flags),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"audit failed ({proc.returncode}): {err_file.read_text()[-2000:]}")
        report = json.loads(out_json.read_text())
    return {
        "load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # the wall time on a busy machine
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "report": report,
    }


def _columns(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {s["name"]: s for s in report["savings"]}
    if report.get("combined"):
        out["combined"] = report["combined"]
    return out


def coverage(path: Path, plugins: str, seeds: int, sample_calls: int) -> dict[str, Any]:
    """Exact run against ``seeds`` sampled runs: is the exact value inside each interval?"""
    exact = audit(path, plugins, "--exact")
    truth = _columns(exact["report"])
    print(f"  exact: {exact['wall_s']:.1f} s", flush=True)
    runs, inside, total = [], 0, 0
    for seed in range(seeds):
        run = audit(
            path, plugins, "--sample-above", "0", "--sample-calls", str(sample_calls), seed=seed
        )
        cols = []
        for name, col in _columns(run["report"]).items():
            if not col.get("interval_usd"):
                continue
            low, high = col["interval_usd"]
            value = truth[name]["cost_saved_usd"]
            ok = low - 1e-9 <= value <= high + 1e-9
            inside, total = inside + ok, total + 1
            cols.append(
                {
                    "column": name,
                    "exact_usd": value,
                    "sampled_usd": col["cost_saved_usd"],
                    "interval_usd": [low, high],
                    "inside": ok,
                }
            )
            print(
                f"  seed {seed} {name:22s} exact {value:9.4f}  sampled "
                f"{col['cost_saved_usd']:9.4f}  [{low:.4f}, {high:.4f}]  "
                f"{'inside' if ok else 'OUTSIDE'}",
                flush=True,
            )
        sampled = run["report"]["sampling"] or {}
        runs.append(
            {
                "seed": seed,
                "wall_s": run["wall_s"],
                "sampled_calls": sampled.get("sampled_calls"),
                "columns": cols,
            }
        )
    return {
        "calls": exact["report"]["calls"],
        "sample_calls": sample_calls,
        "exact_wall_s": exact["wall_s"],
        "runs": runs,
        "inside": inside,
        "intervals": total,
    }


def design_draws(path: Path, column: str, draws: int, sample_calls: int) -> dict[str, Any]:
    """The sampling design alone, on many draws: the column measured exactly once (in
    this process), then ``draws`` stratified samples estimating its total from the
    exact run's per-call savings. Separates the design's coverage from the plug-in's
    (which the CLI runs above add) at a count of draws that can tell 80% from 95%."""
    sys.path.insert(0, str(ROOT / "core"))
    from tokenomy.audit.core import _price_call
    from tokenomy.audit.plugins import AuditContext
    from tokenomy.audit.registry import create_plugins
    from tokenomy.audit.sampling import Sampling, draw_sample
    from tokenomy.audit.workload import load_workload
    from tokenomy.tokens.counter import TokenCounter
    from tokenomy.tokens.prices import PriceTable

    prices = PriceTable.default()
    counters: dict[str, TokenCounter] = {}
    calls = [
        _price_call(c, counters.setdefault(c.model, TokenCounter(c.model)), prices)
        for c in load_workload(path).calls
    ]
    calls = [a for a in calls if a.call.messages is not None or a.call.prompt]
    (plugin,) = create_plugins([column])
    exact = plugin.estimate(AuditContext(calls, prices))
    assert exact.per_call is not None, f"{column} reports no per-call savings"
    rows = [(line, cost) for line, _, _, cost in exact.per_call]
    inside, values = 0, []
    for seed in range(draws):
        sample = draw_sample(calls, Sampling(above=0, calls=sample_calls, seed=seed))
        total = sample.estimate(rows)
        inside += total.low <= exact.cost_saved_usd <= total.high
        values.append(total.value)
    mean = sum(values) / draws
    sd = (sum((v - mean) ** 2 for v in values) / (draws - 1)) ** 0.5
    return {
        "column": column,
        "exact_usd": exact.cost_saved_usd,
        "draws": draws,
        "inside": inside,
        "mean_usd": mean,
        "sd_usd": sd,
    }


def _row_key(row: dict[str, Any]) -> tuple[str, str, int]:
    return row.get("workload", "repeated"), row.get("columns", "all"), row["size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--plugins", default=DEFAULT_PLUGINS)
    parser.add_argument("--coverage", type=int, default=0, help="size of the coverage check")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sample-calls", type=int, default=2000)
    parser.add_argument(
        "--draws", type=int, default=0, help="also check the design alone on this many draws"
    )
    parser.add_argument("--draws-column", default="compression")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="grow workloads whose questions and answers are distinct (grow_distinct)",
    )
    args = parser.parse_args()
    kind = "distinct" if args.distinct else "repeated"
    make = grow_distinct if args.distinct else grow

    result: dict[str, Any] = {"plugins": args.plugins, "rows": []}
    if OUT.exists():  # keep the other part's last results
        previous = json.loads(OUT.read_text())
        result = {**previous, "plugins": args.plugins}
    with tempfile.TemporaryDirectory() as tmp:
        if args.coverage:
            path = Path(tmp) / f"c{args.coverage}.jsonl.gz"
            grow(args.coverage, path)
            print(f"coverage at {args.coverage:,} calls", flush=True)
            cov = coverage(path, args.plugins, args.seeds, args.sample_calls)
            print(
                f"  {cov['inside']} of {cov['intervals']} intervals hold the exact value",
                flush=True,
            )
            result["coverage"] = cov
            if args.draws:
                design = design_draws(path, args.draws_column, args.draws, args.sample_calls)
                print(
                    f"  design alone, {args.draws_column}: {design['inside']} of "
                    f"{design['draws']} draws' intervals hold the exact value (mean "
                    f"{design['mean_usd']:.4f}, sd {design['sd_usd']:.4f} against "
                    f"{design['exact_usd']:.4f})",
                    flush=True,
                )
                result["coverage_design"] = design
            path.unlink()
        rows = []
        for n in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"w{n}.jsonl.gz"
            make(n, path)
            run = audit(path, args.plugins)
            report = run["report"]
            combined = report.get("combined") or {}
            sampled = report.get("sampling") or {}
            row = {
                "workload": kind,
                "columns": args.plugins,
                "size": n,
                "calls": report["calls"],
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "wall_s": run["wall_s"],
                "cpu_s": run["cpu_s"],
                "peak_rss_mb": run["peak_rss_mb"],
                "load_avg_before_after": run["load_avg"],
                "sampled_calls": sampled.get("sampled_calls", 0),
                "sampled_units": sampled.get("units", 0),
                "strata": sampled.get("strata", 0),
                "combined_usd": combined.get("cost_saved_usd"),
                "combined_interval_usd": combined.get("interval_usd"),
                "columns_sampled": list(sampled.get("columns") or []),
            }
            rows.append(row)
            print(
                f"{n:>9,} {kind} calls  {row['wall_s']:>7.1f} s ({row['cpu_s']:.1f} s CPU, "
                f"{1000 * row['cpu_s'] / n:.2f} ms a call)  peak "
                f"{row['peak_rss_mb']:>6.0f} MB  sampled {row['sampled_calls']:,}  "
                f"({row['file_mb']} MB gzipped; load {run['load_avg'][0]}-{run['load_avg'][1]})",
                flush=True,
            )
            path.unlink()
        if rows:  # a (workload, columns, size) measured again replaces its row
            new = {_row_key(r) for r in rows}
            kept = [r for r in result.get("rows", []) if _row_key(r) not in new]
            result["rows"] = sorted(kept + rows, key=_row_key)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
