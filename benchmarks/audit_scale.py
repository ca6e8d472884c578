"""How `tokenomy audit` scales: wall time and peak memory at 10k, 100k (and 1M) calls.

Command (from the repository root):
    python benchmarks/audit_scale.py [--sizes 10000,100000] [--plugins exact_cache,...]

Writes benchmarks/results/audit_scale.json. Each size is a synthetic workload grown from
the bundled sample (its 1,119 calls repeated in order with new ids and timestamps shifted
by a week per round, written gzipped to a temporary folder), audited in a fresh process
(`tokenomy audit FILE --no-html --only PLUGINS`); peak memory is the child's max RSS.
The default plug-ins are the columns that need no embedding model (exact cache, provider
prompt caching, output caps, routing); the model-heavy columns (semantic cache,
compression, few-shot) replay every call through MiniLM and are not part of this run.

Caveats: a repeated sample shares its system prompts, documents and answers far more
than most real logs, and the audit keeps one copy of each repeated text, so memory on a
log of distinct texts grows with the text it holds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "workloads" / "sample.jsonl.gz"
OUT = ROOT / "benchmarks" / "results" / "audit_scale.json"
DEFAULT_PLUGINS = "exact_cache,prompt_caching,output_caps,routing"
WEEK = 7 * 86400


def grow(n: int, path: Path) -> None:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        for i in range(n):
            call = json.loads(lines[i % len(lines)])
            call["id"] = f"syn-{i}"
            round_ = i // len(lines)
            if isinstance(call.get("timestamp"), str) and round_:
                from datetime import datetime, timedelta

                t = datetime.fromisoformat(call["timestamp"].replace("Z", "+00:00"))
                call["timestamp"] = (t + timedelta(seconds=round_ * WEEK)).isoformat()
            out.write(json.dumps(call) + "\n")


def audit(path: Path, plugins: str) -> dict[str, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "tokenomy", "audit", str(path), "--no-html", "--only", plugins],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    calls = next(line for line in out.stdout.splitlines() if " calls, " in line).split()[0]
    return {
        "calls": int(calls.replace(",", "")),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(max(peak, before) / 1024, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--plugins", default=DEFAULT_PLUGINS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"w{n}.jsonl.gz"
            grow(n, path)
            row = {
                "size": n,
                "file_mb": round(path.stat().st_size / 1e6, 1),
                **audit(path, args.plugins),
            }
            rows.append(row)
            print(
                f"{n:>9,} calls  {row['wall_s']:>7.1f} s  peak {row['peak_rss_mb']:>6.0f} MB  "
                f"({row['file_mb']} MB gzipped)",
                flush=True,
            )
            path.unlink()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"plugins": args.plugins, "rows": rows}, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
