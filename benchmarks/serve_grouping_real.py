"""Shared-context grouping against a real model: split rate and answers, off vs on.

Command (from the repository root; a local OpenAI-compatible server on loopback, e.g.
``python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf --model_alias
smollm2-135m --port 8947 --n_ctx 4096 --n_threads 1``):
    python benchmarks/serve_grouping_real.py --upstream http://127.0.0.1:8947/v1 \\
        --model smollm2-135m [--groups 24] [--half held-out|tuning]

Writes benchmarks/results/serve_grouping_smollm2.json. The data and prompt are those of
``serve_grouping.py`` (NaturalQuestions questions whose gold passages come from one
Wikipedia article, the article's passages as the shared context, ``messages`` layout),
the first ``--groups`` titles (sorted) of the chosen half: ``held-out`` (SHA-1 of the
title ends in an odd hex digit; what is reported) or ``tuning`` (even; what the grouped
prompt and the splitter were tuned on). One article's questions are sent at once and
the articles one after another (a one-thread model server answers one call at a time),
through a ``tokenomy serve`` in this process, twice: grouping off, then on
(``max_wait_ms`` long enough that an article's questions always form one group).

Measured: upstream calls; input tokens (the model's own count from ``usage``, and o200k
on the bodies sent); the split rate of grouped calls; answer accuracy (a gold answer
contained in the answer after the lost-in-the-middle evaluation's normalization:
lower case, no punctuation, no articles) with grouping off, with grouping on (what the
clients got, fallbacks included), and on the questions a split grouped call answered
against the same questions answered alone. Every grouped call's text is kept in the
JSON (``exchanges``), with whether it split and whether the numbers alone would have
split it (before answers that repeat the question were refused). ``--old-prompt``
groups with the earlier prompt (instruction before the questions), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import re
import string
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "integrations"), str(ROOT / "tests" / "_support")]

from fake_openai import uvicorn_thread
from gateway_support import ACME, aclient, config_for
from serve_grouping import DATA, messages

from tokenomy.serve import GatewayConfig, create_app
from tokenomy.serve import grouping as grouping_module
from tokenomy.serve.upstream import Upstream
from tokenomy.tokens import TokenCounter

OUT = ROOT / "benchmarks" / "results" / "serve_grouping_smollm2.json"
OLD_INSTRUCTION = (  # the grouped prompt before this benchmark: instruction, then questions
    "Answer each of the {n} questions below on its own, using the context above. Start "
    "each answer on a new line with the question's number in brackets ([1], [2], ...), "
    "answer every question, and write nothing else."
)

Group = tuple[str, str, list[str], list[list[str]]]


def groups(path: Path, half: str) -> list[Group]:
    """(title, documents, questions, gold answers) per title of ``half`` with at least
    two questions."""
    by_title: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(path, "rt") as f:
        for line in f:
            row = json.loads(line)
            by_title[row["ctxs"][0]["title"]].append(row)
    parity = 1 if half == "held-out" else 0
    out = []
    for title, rows in sorted(by_title.items()):
        if len(rows) < 2 or int(hashlib.sha1(title.encode()).hexdigest()[-1], 16) % 2 != parity:
            continue
        passages = list(dict.fromkeys(r["ctxs"][0]["text"] for r in rows))
        docs = "\n".join(f"Document [{i}](Title: {title}) {p}" for i, p in enumerate(passages, 1))
        out.append((title, docs, [r["question"] for r in rows], [r["answers"] for r in rows]))
    return out


def normalize(text: str) -> str:
    """The lost-in-the-middle evaluation's answer normalization (SQuAD's)."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def correct(answer: str, gold: list[str]) -> bool:
    said = normalize(answer)
    return any(normalize(g) and normalize(g) in said for g in gold)


def use_old_prompt() -> None:
    """Group with the earlier prompt (its instruction before the numbered questions)."""
    merge = grouping_module.merge_questions

    def merged(questions: list[Any]) -> dict[str, Any]:
        body = merge(questions)
        numbered = "\n".join(f"[{i}] {q.text}" for i, q in enumerate(questions, 1))
        old = OLD_INSTRUCTION.format(n=len(questions)) + "\n\n" + numbered
        new = numbered + "\n\n" + grouping_module.INSTRUCTION.format(n=len(questions))
        last = body["messages"][-1]
        last["content"] = last["content"].replace(new, old)
        return body

    grouping_module.merge_questions = merged  # type: ignore[assignment]
    grouping_module.INSTRUCTION = OLD_INSTRUCTION


def numbered(text: str, n: int) -> bool:
    """Whether ``text`` has the numbers ``[1]``...``[n]`` in order, each with some text
    (what the splitter checked before it refused answers that repeat a question)."""
    marks = list(grouping_module._MARK.finditer(text))
    if [int(m.group(1)) for m in marks] != list(range(1, n + 1)):
        return False
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return all(text[m.end() : end].strip() for m, end in zip(marks, ends, strict=True))


class Recorder:
    """Keeps every chat call the gateway makes upstream (body and answer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._post = Upstream.post

    def __enter__(self) -> Recorder:
        post, calls = self._post, self.calls

        async def recorded(up: Upstream, path: str, body: Any) -> dict[str, Any]:
            response = await post(up, path, body)
            if path.endswith("/chat/completions"):
                calls.append((dict(body), response))
            return response

        Upstream.post = recorded  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Upstream.post = self._post  # type: ignore[method-assign]


async def ask_all(url: str, work: list[Group], max_tokens: int) -> list[dict[str, Any]]:
    api = aclient(url, ACME)

    async def one(docs: str, q: str, gold: list[str]) -> dict[str, Any]:
        raw = await api.chat.completions.with_raw_response.create(
            model="local-real",
            messages=messages("messages", docs, q),
            max_tokens=max_tokens,
            temperature=0,
        )
        answer = str(raw.parse().choices[0].message.content or "")
        trace = raw.headers.get("x-tokenomy-trace") or ""
        shared = '"group"' in trace and '"shared"' in trace
        return {"question": q, "answer": answer, "correct": correct(answer, gold), "shared": shared}

    out: list[dict[str, Any]] = []
    try:
        for i, (title, docs, qs, golds) in enumerate(work, 1):
            rows = await asyncio.gather(*(one(docs, q, g) for q, g in zip(qs, golds, strict=True)))
            out.extend(rows)
            print(f"  {i}/{len(work)} {title[:50]}: {sum(r['correct'] for r in rows)}/{len(rows)}")
    finally:
        await api.close()
    return out


def measure(
    work: list[Group], upstream: str, model: str, grouping: dict[str, Any] | None, max_tokens: int
) -> dict[str, Any]:
    counter = TokenCounter("gpt-4o-mini")
    overrides: dict[str, Any] = {
        "cache": {"mode": "none"},
        "dedup": {"enabled": False},
        "models": {
            "local-real": {
                "base_url": upstream,
                "model": model,
                "price": {"input": 0, "output": 0},
                "timeout_s": 900,
            }
        },
    }
    if grouping is not None:
        overrides["grouping"] = grouping
    config = GatewayConfig.from_mapping(config_for(upstream, **overrides))
    app = create_app(config, environ={"UPSTREAM_KEY": "unused"})
    with Recorder() as rec, uvicorn_thread(app) as url:
        started = time.perf_counter()
        rows = asyncio.run(ask_all(url, work, max_tokens))
        seconds = time.perf_counter() - started
        stats = app.state.gateway.grouping.stats if grouping is not None else None
    exchanges = []
    for body, response in rec.calls:
        content = body["messages"][-1]["content"]
        asked = re.findall(r"(?m)^\[(\d+)\] (.*)$", content)
        if grouping_module.INSTRUCTION.split("{n}")[-1] not in content or not asked:
            continue
        text = str(response["choices"][0]["message"].get("content") or "")
        questions = [q for _, q in asked]
        exchanges.append(
            {
                "questions": questions,
                "content": text,
                "finish_reason": response["choices"][0].get("finish_reason"),
                "split": grouping_module.split_response(response, len(asked), questions)
                is not None,
                "split_by_numbers_only": numbered(text, len(asked)),
            }
        )
    return {
        "requests": len(rows),
        "correct": sum(r["correct"] for r in rows),
        "upstream_calls": len(rec.calls),
        "input_tokens_model": sum(
            int(r.get("usage", {}).get("prompt_tokens", 0)) for _, r in rec.calls
        ),
        "input_tokens_o200k": sum(counter.count_messages(b["messages"]) for b, _ in rec.calls),
        "output_tokens_model": sum(
            int(r.get("usage", {}).get("completion_tokens", 0)) for _, r in rec.calls
        ),
        "grouped_calls": stats.calls if stats else 0,
        "split_failed": stats.split_failed if stats else 0,
        "grouped_requests": stats.grouped if stats else 0,
        "seconds": round(seconds, 1),
        "answers": rows,
        "exchanges": exchanges,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the model server's /v1 URL")
    parser.add_argument("--model", default="smollm2-135m", help="the model name it serves")
    parser.add_argument("--groups", type=int, default=24, help="articles (first N by title)")
    parser.add_argument("--half", choices=("held-out", "tuning"), default="held-out")
    parser.add_argument("--max-tokens", type=int, default=32, help="per question")
    parser.add_argument(
        "--old-prompt", action="store_true", help="the earlier grouped prompt (for comparison)"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.old_prompt:
        use_old_prompt()
    work = groups(DATA, args.half)[: args.groups]
    grouping = {"enabled": True, "max_size": 8, "max_wait_ms": 2000, "min_context_chars": 500}
    print(f"{len(work)} titles, {sum(len(w[2]) for w in work)} questions ({args.half} half)")
    print("grouping off")
    off = measure(work, args.upstream, args.model, None, args.max_tokens)
    print("grouping on")
    on = measure(work, args.upstream, args.model, grouping, args.max_tokens)
    split = [i for i, r in enumerate(on["answers"]) if r["shared"]]
    calls = on["grouped_calls"]
    results: dict[str, Any] = {
        "upstream_model": args.model,
        "half": args.half,
        "groups": len(work),
        "questions": off["requests"],
        "max_tokens": args.max_tokens,
        "grouping": grouping,
        "instruction": grouping_module.INSTRUCTION,
        "instruction_after_questions": not args.old_prompt,
        "split_rate": round((calls - on["split_failed"]) / calls, 4) if calls else None,
        "split_by_numbers_only": sum(e["split_by_numbers_only"] for e in on["exchanges"]),
        "questions_answered_by_a_split_call": len(split),
        "correct_on_those_grouped": sum(on["answers"][i]["correct"] for i in split),
        "correct_on_those_alone": sum(off["answers"][i]["correct"] for i in split),
        "off": off,
        "on": on,
    }
    print(
        f"{'grouping':8} {'calls':>6} {'input tok':>10} {'o200k':>8} {'grouped calls':>14} "
        f"{'split failed':>13} {'correct':>8} {'seconds':>8}"
    )
    for name, r in (("off", off), ("on", on)):
        print(
            f"{name:8} {r['upstream_calls']:>6} {r['input_tokens_model']:>10,} "
            f"{r['input_tokens_o200k']:>8,} {r['grouped_calls']:>14} {r['split_failed']:>13} "
            f"{r['correct']:>4}/{r['requests']:<3} {r['seconds']:>8}"
        )
    print(
        f"split rate {results['split_rate']}; numbers alone would split "
        f"{results['split_by_numbers_only']}/{calls}; {len(split)} questions answered by a "
        f"split call: {results['correct_on_those_grouped']} correct grouped, "
        f"{results['correct_on_those_alone']} alone"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
