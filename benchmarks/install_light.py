"""The light install on a fresh machine: time of `pip install tokenomy` + the first
`tokenomy count`, and the size of the environment.

Command (from the repository root):
    python benchmarks/install_light.py [--runs 2]

Builds tokenomy's wheel, then per run: a new virtual environment in a temporary folder,
`pip install --no-cache-dir -c constraints.txt tokenomy-*.whl` (the base, no extras; the
dependencies from the package index, nothing cached), then `tokenomy count --text ...`
(its first run: imports, the tokenizer's BPE file read from the package). Writes
benchmarks/results/install_light.json. The machine is shared, so the time depends on its
load; the load average is recorded beside each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "install_light.json"


def _size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheel"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
            check=True,
        )
        wheel = next(wheels.glob("tokenomy-*.whl"))
        for run in range(args.runs):
            venv = Path(tmp) / f"venv{run}"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--no-cache-dir",
                    "-q",
                    "-c",
                    str(ROOT / "constraints.txt"),
                    str(wheel),
                ],
                check=True,
                capture_output=True,
            )
            installed = time.perf_counter()
            out = subprocess.run(
                [str(venv / "bin" / "tokenomy"), "count", "--text", "How many tokens is this?"],
                check=True,
                capture_output=True,
                text=True,
            )
            done = time.perf_counter()
            row = {
                "install_s": round(installed - start, 1),
                "first_count_s": round(done - installed, 1),
                "total_s": round(done - start, 1),
                "env_mb": _size_mb(venv),
                "load_avg_1min": round(load, 1),
                "count_output": out.stdout.strip(),
            }
            rows.append(row)
            print(
                f"run {run}: pip install {row['install_s']} s + tokenomy count "
                f"{row['first_count_s']} s = {row['total_s']} s; environment {row['env_mb']} MB "
                f"(load {row['load_avg_1min']})",
                flush=True,
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"wheel": wheel.name, "runs": rows}, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
