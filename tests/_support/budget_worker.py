"""One 'machine' of the shared-budget test: threads spending $1 calls against Redis.

Run by tests/tokenomy/budget/test_shared_processes.py as a separate OS process:

    python budget_worker.py <redis url> <prefix> <limit usd> <threads> <fallback share> <dir>

It waits for ``<dir>/go`` (so that every process starts at once), then each thread
reserves $1, holds it for a moment (a call in flight), settles $1, and goes again;
a refused call waits a moment and retries. It stops when ``<dir>/stop`` appears and
writes ``<dir>/<pid>.json``: every settled reservation, the refusals, and what it
spent while Redis was unreachable.
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

from tokenomy.budget import Limit, RedisBudget
from tokenomy.errors import BudgetExceededError


def main() -> None:
    url, prefix, limit, threads, share, folder = sys.argv[1:7]
    folder = Path(folder)
    budget = RedisBudget(
        url,
        limits=[Limit(usd=float(limit), window="day")],
        prefix=prefix,
        fallback_share=float(share),
        retry_s=0.05,
        rejoin_s=1.0,
        timeout_s=2.0,
    )
    settled, refused, lock = [], [0], threading.Lock()

    def run() -> None:
        while not (folder / "stop").exists():
            try:
                r = budget.reserve(1.0)
            except BudgetExceededError:
                with lock:
                    refused[0] += 1
                time.sleep(0.01)
                continue
            time.sleep(0.02)  # the call is in flight
            budget.settle(r, 1.0)
            with lock:
                settled.append(r.id)
            time.sleep(0.05)  # the app does something else

    (folder / f"ready.{os.getpid()}").touch()
    while not (folder / "go").exists():
        time.sleep(0.005)
    workers = [threading.Thread(target=run) for _ in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    deadline = time.monotonic() + 10  # write everything back before reporting
    while not budget.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    out = {
        "settled": settled,
        "refused": refused[0],
        "spent": float(len(settled)),
        "fallback_spent": budget.fallback_spent_usd,
        "outages": budget.outages,
        "connected": budget.connected,
    }
    budget.close()
    (folder / f"{os.getpid()}.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
