"""Wall time of the main job, `tokenomy audit` on the bundled sample workload.

Command (from the repository root, with tokenomy installed):
    python benchmarks/audit_sample.py [--runs 3]

Writes benchmarks/results/audit_sample.json. Each run is a fresh process (import,
read, count, price, plug-ins, text and HTML report), with sockets not needed:
HF_HUB_OFFLINE=1 is set so a download attempt would fail loudly instead of
waiting. Reports the median and the max of the runs, and the workload's size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "audit_sample.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    times = []
    stdout = ""
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        for _ in range(args.runs):
            t = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tokenomy.cli",
                    "audit",
                    "--html",
                    str(html),
                    "--json",
                    str(Path(tmp) / "r.json"),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            times.append(time.perf_counter() - t)
            stdout = out.stdout
        summary = json.loads((Path(tmp) / "r.json").read_text())
        html_bytes = html.stat().st_size
    result = {
        "benchmark": "audit_sample",
        "runs": args.runs,
        "seconds": times,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "calls": summary["calls"],
        "input_tokens": summary["input_tokens"],
        "output_tokens": summary["output_tokens"],
        "cost_usd": summary["cost_usd"],
        "html_bytes": html_bytes,
        "savings": {s["name"]: s["cost_saved_usd"] for s in summary["savings"]},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(stdout.splitlines()[2] if len(stdout.splitlines()) > 2 else stdout)
    print(
        f"tokenomy audit (bundled sample, {summary['calls']:,} calls): median "
        f"{result['median_s']:.2f} s, max {result['max_s']:.2f} s over {args.runs} runs; "
        f"HTML {html_bytes / 1024:.0f} KiB"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
