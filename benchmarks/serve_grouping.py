"""Shared-context grouping on NaturalQuestions questions that share passages.

Command (from the repository root; loopback only):
    python benchmarks/serve_grouping.py [--spread-ms 100] [--wait-ms 50] [--max-size 8]

Writes benchmarks/results/serve_grouping.json. Data: ``nq-open-oracle`` (lost in the
middle): the questions whose gold passage has the same Wikipedia title form a group
(a RAG app over that article: several users ask about it at about the same time);
the group's context is its distinct gold passages, in the lost-in-the-middle prompt
format. Only the held-out half of the titles is used (those whose SHA-1 ends in an odd
hex digit); nothing was tuned on either half.

For each layout (``messages``: the instructions and documents in a system message,
the question in the user message; ``prefix``: one user message, documents first,
``Question: ...`` after the last blank line) the questions of every group are sent
to a ``tokenomy serve`` in this process, each at a random offset within
``--spread-ms`` of its group's start (seeded), twice: grouping off, then on. The
upstream is the test suite's fake (``numbered``: it answers a grouped call's
``[i]`` lines one by one, and echoes a single question), so what is measured is the
mechanics: upstream calls, input tokens sent (o200k, what ``gpt-4o-mini`` would be
billed; counted on the bodies the upstream received) and whether every request got
its own answer back. The fake does not measure whether a real model answers
numbered questions as well as single ones; ``serve_grouping_real.py`` does, against a
real model's server (docs/gateway.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations"), str(ROOT / "tests" / "_support")]

from fake_openai import FakeOpenAI, uvicorn_thread
from gateway_support import ACME, UPSTREAM_KEY, aclient, config_for

from tokenomy.serve import GatewayConfig, create_app
from tokenomy.tokens import TokenCounter

DATA = ROOT.parent / "shared" / "eval-data" / "lost_in_the_middle" / "nq-open-oracle.jsonl.gz"
OUT = ROOT / "benchmarks" / "results" / "serve_grouping.json"
INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search "
    "results (some of which might be irrelevant)."
)


def groups(path: Path) -> list[tuple[str, str, list[str]]]:
    """(title, documents, questions) per held-out title with at least two questions."""
    by_title: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(path, "rt") as f:
        for line in f:
            row = json.loads(line)
            by_title[row["ctxs"][0]["title"]].append(row)
    out = []
    for title, rows in sorted(by_title.items()):
        if len(rows) < 2 or int(hashlib.sha1(title.encode()).hexdigest()[-1], 16) % 2 == 0:
            continue
        passages = list(dict.fromkeys(r["ctxs"][0]["text"] for r in rows))
        docs = "\n".join(f"Document [{i}](Title: {title}) {p}" for i, p in enumerate(passages, 1))
        out.append((title, docs, [r["question"] for r in rows]))
    return out


def messages(layout: str, docs: str, question: str) -> list[dict[str, str]]:
    if layout == "messages":
        return [
            {"role": "system", "content": f"{INSTRUCTION}\n\n{docs}"},
            {"role": "user", "content": f"Question: {question}"},
        ]
    return [{"role": "user", "content": f"{INSTRUCTION}\n\n{docs}\n\nQuestion: {question}"}]


async def run_all(
    url: str, work: list[tuple[str, str, list[str]]], layout: str, spread_s: float, seed: int
) -> list[bool]:
    api = aclient(url, ACME)
    rng = random.Random(seed)

    async def one(docs: str, q: str, delay: float) -> bool:
        await asyncio.sleep(delay)
        r = await api.chat.completions.create(
            model="gpt-4o-mini", messages=messages(layout, docs, q), max_tokens=64
        )
        # its own question's answer (the fake echoes it: a single call echoes the whole
        # message, a grouped one the question's numbered line)
        return str(r.choices[0].message.content).endswith(f"Question: {q}")

    tasks = [one(docs, q, rng.uniform(0, spread_s)) for _, docs, qs in work for q in qs]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await api.close()


def measure(
    work: list[tuple[str, str, list[str]]],
    layout: str,
    grouping: dict[str, Any] | None,
    spread_s: float,
) -> dict[str, Any]:
    counter = TokenCounter("gpt-4o-mini")
    with FakeOpenAI() as up:
        up.numbered = True
        overrides: dict[str, Any] = {"cache": {"mode": "none"}, "dedup": {"enabled": False}}
        if grouping is not None:
            overrides["grouping"] = grouping
        config = GatewayConfig.from_mapping(config_for(up.url, **overrides))
        app = create_app(config, environ={"UPSTREAM_KEY": UPSTREAM_KEY})
        with uvicorn_thread(app) as url:
            started = time.perf_counter()
            correct = asyncio.run(run_all(url, work, layout, spread_s, seed=7))
            seconds = time.perf_counter() - started
            stats = app.state.gateway.grouping.stats if grouping is not None else None
        bodies = [r["body"] for r in up.requests if r["path"] == "/v1/chat/completions"]
    return {
        "requests": len(correct),
        "answered_correctly": sum(correct),
        "upstream_calls": len(bodies),
        "input_tokens": sum(counter.count_messages(b["messages"]) for b in bodies),
        "grouped_requests": stats.grouped if stats else 0,
        "grouped_calls": stats.calls if stats else 0,
        "split_failed": stats.split_failed if stats else 0,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spread-ms", type=float, default=100.0)
    parser.add_argument("--wait-ms", type=float, default=50.0)
    parser.add_argument("--max-size", type=int, default=8)
    parser.add_argument("--min-context-chars", type=int, default=500)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    work = groups(DATA)
    grouping = {
        "enabled": True,
        "max_size": args.max_size,
        "max_wait_ms": args.wait_ms,
        "min_context_chars": args.min_context_chars,
    }
    results: dict[str, Any] = {
        "groups": len(work),
        "questions": sum(len(q) for *_, q in work),
        "spread_ms": args.spread_ms,
        "grouping": grouping,
    }
    print(f"{results['groups']} titles, {results['questions']} questions (held-out half)")
    print(
        f"{'layout':9} {'grouping':8} {'calls':>6} {'input tokens':>13} {'saved':>7} "
        f"{'grouped':>8} {'split failed':>13} {'correct':>8}"
    )
    for layout in ("messages", "prefix"):
        off = measure(work, layout, None, args.spread_ms / 1000)
        on = measure(work, layout, {**grouping, "by": layout}, args.spread_ms / 1000)
        saved = 1 - on["input_tokens"] / off["input_tokens"]
        results[layout] = {"off": off, "on": on, "input_tokens_saved_share": round(saved, 4)}
        for name, r in (("off", off), ("on", on)):
            print(
                f"{layout:9} {name:8} {r['upstream_calls']:>6} {r['input_tokens']:>13,} "
                f"{(saved if name == 'on' else 0):>7.1%} {r['grouped_requests']:>8} "
                f"{r['split_failed']:>13} {r['answered_correctly']:>4}/{r['requests']}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
