"""Where one cache miss spends the gateway's CPU: ``tokenomy serve`` under cProfile.

Command (from the repository root; loopback only, bounded in time):
    python benchmarks/serve_profile.py [--clients 20] [--seconds 15] [--top 30]

Writes benchmarks/results/serve_profile.json. One gateway (uvicorn, in this
process's main thread) with the configuration of ``serve_load.py`` (exact memory
cache, de-duplication through a real Redis), an upstream stand-in answering at once
(in a process of its own) and ``serve_load.py``'s load generator (in a process of its
own: ``--clients`` keep-alive clients, every request a new question, so every one a
miss). Two runs: without the profiler, the gateway's CPU per miss (this process's
user + system time, every thread, over the load, divided by the requests answered);
with cProfile on the event loop's thread (its CPU time, ``time.thread_time``), the
functions by own time and by cumulative time, per miss (warm-up included).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations"), str(ROOT / "tests" / "_support")]
sys.path.insert(0, str(ROOT / "benchmarks"))

from gateway_support import ACME, UPSTREAM_KEY
from redis_server import RedisStackServer
from serve_load import gateway_config, upstream_process

OUT = ROOT / "benchmarks" / "results" / "serve_profile.json"

LOADER = """
import asyncio, itertools, json, sys
sys.path[:0] = [{bench!r}]
from serve_load import load
c = itertools.count()
r = asyncio.run(load([("127.0.0.1", {port})], clients={clients}, seconds={seconds},
                     questions=(f"profile {{next(c)}}" for _ in itertools.count()),
                     model="gpt-4o-mini", key={key!r}))
print(json.dumps(r.summary()), flush=True)
"""


def run_once(
    config: dict[str, Any], env: dict[str, str], args: argparse.Namespace, profile: bool
) -> dict[str, Any]:
    import socket

    import uvicorn

    from tokenomy.serve import GatewayConfig, create_app

    app = create_app(GatewayConfig.from_mapping(config), environ=env)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    result: dict[str, Any] = {}

    def drive() -> None:
        while not server.started:
            time.sleep(0.05)
        code = LOADER.format(
            bench=str(ROOT / "benchmarks"), port=port, clients=args.clients, seconds=2, key=ACME
        )
        warm = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        result["warm"] = json.loads(warm.stdout.strip().splitlines()[-1])
        code = LOADER.format(
            bench=str(ROOT / "benchmarks"),
            port=port,
            clients=args.clients,
            seconds=args.seconds,
            key=ACME,
        )
        cpu = time.process_time()
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        result["cpu_s"] = time.process_time() - cpu
        result["load"] = json.loads(done.stdout.strip().splitlines()[-1])
        server.should_exit = True

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    # CPU time of the event loop's thread (not wall time: waiting is not a cost here)
    profiler = cProfile.Profile(time.thread_time) if profile else None
    if profiler is not None:
        profiler.enable()
    server.run(sockets=[sock])
    if profiler is not None:
        profiler.disable()
        result["profiler"] = profiler
    driver.join(5)
    sock.close()
    return result


def table(profiler: cProfile.Profile, requests: int, sort: str, top: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (file, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({name})",
                "calls_per_miss": round(calls / requests, 2),
                "own_us_per_miss": round(tottime / requests * 1e6, 1),
                "cum_us_per_miss": round(cumtime / requests * 1e6, 1),
            }
        )
    key = "own_us_per_miss" if sort == "tottime" else "cum_us_per_miss"
    return sorted(rows, key=lambda r: -r[key])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-dedup", action="store_true", help="de-duplication off (no Redis on a miss's path)"
    )
    parser.add_argument("--dump", type=Path, default=None, help="write the raw profile here")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "load_before": os.getloadavg(),
    }
    with (
        RedisStackServer() as redis,
        upstream_process(0.0) as upstream,
        tempfile.TemporaryDirectory(),
    ):
        env = {"UPSTREAM_KEY": UPSTREAM_KEY, "REDIS_URL": redis.url}
        config = gateway_config(upstream)
        if args.no_dedup:
            config = {**config, "dedup": {"enabled": False}}
        out["dedup"] = not args.no_dedup
        plain = run_once(config, env, args, profile=False)
        n = plain["load"]["requests"]
        out["plain"] = {**plain["load"], "cpu_ms_per_miss": round(plain["cpu_s"] / n * 1000, 3)}
        print(
            f"without the profiler: {n} misses, {out['plain']['throughput_rps']} req/s, "
            f"CPU {out['plain']['cpu_ms_per_miss']} ms per miss"
        )
        profiled = run_once(config, env, args, profile=True)
        n = profiled["load"]["requests"]
        out["profiled"] = {
            **profiled["load"],
            "cpu_ms_per_miss": round(profiled["cpu_s"] / n * 1000, 3),
        }
        everything = n + profiled["warm"]["requests"]  # the profile covers the warm-up too
        if args.dump is not None:
            profiled["profiler"].dump_stats(args.dump)  # for pstats: callers, callees
        for sort in ("tottime", "cumtime"):
            rows = table(profiled["profiler"], everything, sort, args.top)
            out[f"by_{sort}"] = rows
            print(f"\nby {sort} (per miss, event-loop thread, under cProfile):")
            print(f"{'own us':>8} {'cum us':>8} {'calls':>6}  function")
            for r in rows:
                print(
                    f"{r['own_us_per_miss']:>8} {r['cum_us_per_miss']:>8} "
                    f"{r['calls_per_miss']:>6}  {r['function']}"
                )
    out["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
