"""Overhead of TokenomyCallbackHandler per LangChain model call.

Command (from the repository root):
    python benchmarks/callback_overhead.py [--calls 2000] [--repeats 5]

Writes benchmarks/results/callback_overhead.json. A chat model that returns a
fixed AIMessage with usage (LangChain's GenericFakeChatModel) is invoked
``--calls`` times with no handler, with LangChain's own
UsageMetadataCallbackHandler (the peer), and with ours on an in-memory and on a
SQLite ledger; also with ours when the response carries no usage (the handler
then counts the prompt and the answer). The overhead is the difference of the
median per-call times against no handler, from the same run.

Caveats: the fake model itself costs ~0.1-0.2 ms per call in LangChain's
machinery, so this measures what the handler adds to LangChain's own
per-call cost; a real provider call takes 100-1000x longer.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations")]

from langchain_core.callbacks import BaseCallbackHandler, UsageMetadataCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_tokenomy import TokenomyCallbackHandler
from tokenomy.monitor import InMemoryLedger, SQLiteLedger

OUT = ROOT / "benchmarks" / "results" / "callback_overhead.json"
PROMPT = [("system", "You are a concise assistant."), ("human", "What is the capital of France?")]


def replies(with_usage: bool) -> Iterator[AIMessage]:
    while True:
        yield AIMessage(
            content="The capital of France is Paris.",
            usage_metadata={"input_tokens": 24, "output_tokens": 8, "total_tokens": 32}
            if with_usage
            else None,
            response_metadata={"model_name": "gpt-4o-mini"},
        )


def per_call(
    make: Callable[[], BaseCallbackHandler | None],
    calls: int,
    repeats: int,
    with_usage: bool = True,
) -> float:
    times = []
    for _ in range(repeats):
        model = GenericFakeChatModel(messages=replies(with_usage))
        handler = make()
        config = {"callbacks": [handler]} if handler else {}
        for _ in range(50):  # warm-up
            model.invoke(PROMPT, config=config)
        t = time.perf_counter()
        for _ in range(calls):
            model.invoke(PROMPT, config=config)
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    n = [0]

    def sqlite_handler() -> TokenomyCallbackHandler:
        n[0] += 1
        return TokenomyCallbackHandler(ledger=SQLiteLedger(tmp / f"usage{n[0]}.db"))

    cases: dict[str, tuple[Callable[[], BaseCallbackHandler | None], bool]] = {
        "no handler": (lambda: None, True),
        "UsageMetadataCallbackHandler (langchain-core)": (UsageMetadataCallbackHandler, True),
        "TokenomyCallbackHandler, in-memory ledger": (
            lambda: TokenomyCallbackHandler(ledger=InMemoryLedger()),
            True,
        ),
        "TokenomyCallbackHandler, SQLite ledger": (sqlite_handler, True),
        "TokenomyCallbackHandler, in-memory, no usage (counts)": (
            lambda: TokenomyCallbackHandler(ledger=InMemoryLedger()),
            False,
        ),
    }
    results = {
        name: per_call(make, args.calls, args.repeats, usage)
        for name, (make, usage) in cases.items()
    }
    base = results["no handler"]
    print(f"{'case':55} {'ms/call':>8} {'overhead ms':>12}")
    rows = []
    for name, t in results.items():
        print(f"{name:55} {t * 1e3:>8.3f} {(t - base) * 1e3:>12.3f}")
        rows.append({"case": name, "ms_per_call": t * 1e3, "overhead_ms": (t - base) * 1e3})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "benchmark": "callback_overhead",
                "calls": args.calls,
                "repeats": args.repeats,
                "python": platform.python_version(),
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
