"""The show: 4 OS processes x 8 threads spend $1 calls against one Redis and a $50
limit; once with Redis up throughout, once with Redis killed mid-run and restarted
empty. Several processes stand in for several machines."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("redis")

from tokenomy.budget import Limit, RedisBudget

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[3]
WORKER = REPO / "tests" / "_support" / "budget_worker.py"
PROCESSES, THREADS, LIMIT, SHARE = 4, 8, 50.0, 0.05


def start(url, prefix, folder):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "core"), str(REPO / "integrations"), env.get("PYTHONPATH", "")]
    )
    args = [url, prefix, str(LIMIT), str(THREADS), str(SHARE), str(folder)]
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), *args], env=env) for _ in range(PROCESSES)
    ]
    assert wait_for(lambda: len(list(folder.glob("ready.*"))) == PROCESSES, timeout=60)
    (folder / "go").touch()  # every process starts at once
    return procs


def finish(procs, folder):
    (folder / "stop").touch()
    for p in procs:
        assert p.wait(timeout=60) == 0
    return [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


_readers = {}


def shared_spend(url, prefix):
    """(spent, reserved) in Redis now; (-1, -1) while it is down."""
    key = (url, prefix)
    if key not in _readers:
        _readers[key] = RedisBudget(url, limits=[Limit(usd=LIMIT, window="day")], prefix=prefix)
    try:
        return _readers[key].fetch()["all-day"]
    except Exception:
        return (-1.0, -1.0)


def test_four_processes_of_eight_threads_never_pass_fifty_dollars(redis_url, tmp_path):
    procs = start(redis_url, "show1:", tmp_path)
    assert wait_for(lambda: shared_spend(redis_url, "show1:")[0] >= LIMIT)
    time.sleep(0.1)  # everyone keeps trying against a spent budget
    reports = finish(procs, tmp_path)
    spent = sum(r["spent"] for r in reports)
    assert spent == LIMIT  # $1 calls that cost what they reserved: never over, none lost
    assert shared_spend(redis_url, "show1:") == (LIMIT, 0.0)
    assert all(r["refused"] > 0 and r["outages"] == 0 for r in reports)


def test_with_redis_killed_mid_run_the_fallback_holds_its_share(redis_stack, redis_url, tmp_path):
    procs = start(redis_url, "show2:", tmp_path)
    assert wait_for(lambda: shared_spend(redis_url, "show2:")[0] >= 8)
    redis_stack.kill()  # everything Redis knew is gone
    time.sleep(0.3)  # the processes run on their fallback shares
    redis_stack.start()  # back, empty
    assert wait_for(lambda: shared_spend(redis_url, "show2:")[0] >= LIMIT - 0.5)
    time.sleep(0.2)
    reports = finish(procs, tmp_path)

    spent = sum(r["spent"] for r in reports)
    in_redis, reserved = shared_spend(redis_url, "show2:")
    assert in_redis == spent and reserved == 0.0  # written back: none lost, none twice
    assert spent <= LIMIT  # the outage began with more room than 4 x $2.50 shares
    assert all(r["outages"] >= 1 and r["connected"] for r in reports)
    assert all(r["fallback_spent"] <= SHARE * LIMIT for r in reports)
    assert sum(r["fallback_spent"] for r in reports) > 0  # the kill really was mid-run
