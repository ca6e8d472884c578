"""Fair shares: does a tenant keep its share of a global limit while another floods?

    python benchmarks/budget_fairness.py [--runs 5]

Writes benchmarks/results/budget_fairness.json. Starts its own Redis Stack server on
127.0.0.1 for the shared backend.

A $40 limit; tenant "a" floods it from 6 threads with $1 calls; tenant "b" makes
30 (then 8) $1 calls one after another, 2 ms apart, meanwhile. Reported: what each
tenant got, without fair shares and with weights a:1, b:1 (guaranteed 1.0 and 0.5),
in process (SpendBudget) and shared (RedisBudget), medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "tests" / "_support")]

from tokenomy.budget import Limit, RedisBudget, SpendBudget
from tokenomy.errors import BudgetExceededError

OUT = ROOT / "benchmarks" / "results" / "budget_fairness.json"
LIMIT = 40.0


def run(budget, steady_calls: int) -> dict[str, int]:
    got = {"a": 0, "b": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            try:
                r = budget.reserve(1.0, labels={"tenant": "a"})
            except BudgetExceededError:
                time.sleep(0.001)
                continue
            budget.settle(r, 1.0)
            with lock:
                got["a"] += 1

    threads = [threading.Thread(target=flood) for _ in range(6)]
    for t in threads:
        t.start()
    for _ in range(steady_calls):
        try:
            budget.settle(budget.reserve(1.0, labels={"tenant": "b"}), 1.0)
            got["b"] += 1
        except BudgetExceededError:
            pass
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join()
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from redis_server import RedisStackServer

    policies = {
        "no fair shares": {},
        "a:1 b:1, guaranteed 1.0": {"fair_by": "tenant", "weights": {"a": 1, "b": 1}},
        "a:1 b:1, guaranteed 0.5": {
            "fair_by": "tenant",
            "weights": {"a": 1, "b": 1},
            "guaranteed": 0.5,
        },
    }
    rows = []
    with RedisStackServer() as server:
        n = 0
        for backend in ("SpendBudget", "RedisBudget"):
            for name, options in policies.items():
                for demand in (30, 8):
                    got = []
                    for _ in range(args.runs):
                        limit = Limit(usd=LIMIT, **options)
                        n += 1
                        budget = (
                            SpendBudget(limits=[limit])
                            if backend == "SpendBudget"
                            else RedisBudget(server.url, limits=[limit], prefix=f"fair{n}:")
                        )
                        got.append(run(budget, demand))
                    rows.append(
                        {
                            "backend": backend,
                            "policy": name,
                            "b_demand": demand,
                            "a_median": statistics.median(g["a"] for g in got),
                            "b_median": statistics.median(g["b"] for g in got),
                            "b_min": min(g["b"] for g in got),
                            "runs": got,
                        }
                    )
    print(
        f"${LIMIT:.0f} limit; 'a' floods from 6 threads, 'b' asks for N $1 calls ({args.runs} runs)"
    )
    print(f"{'backend':12} {'policy':26} {'b asks':>6} {'a got':>6} {'b got (min)':>12}")
    for r in rows:
        print(
            f"{r['backend']:12} {r['policy']:26} {r['b_demand']:6} {r['a_median']:6.0f} "
            f"{r['b_median']:6.0f} ({r['b_min']})"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"limit_usd": LIMIT, "rows": rows}, indent=2))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
