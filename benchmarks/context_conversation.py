"""Long conversations: tokens sent per turn, and whether early facts survive to late questions.

Command (from the repository root):
    python benchmarks/context_conversation.py [--chats 20] [--budget 2048]

Writes benchmarks/results/context_conversation.json. Each chat is built from
MT-Bench: a system prompt, a greeting (the stated goal), then MT-Bench questions
with real GPT-4 answers (RouteLLM's judgement records, two turns per question),
chained until the history is about 4x the budget. Three personal facts ("my
daughter's name is Ottoline") are stated in passing early on (prefixed to the
2nd, 4th and 6th user messages, never the first, which is pinned), and after the
last MT-Bench turn each fact is asked about ("What is my daughter's name?").

For every user turn we count the prompt tokens sent (o200k, chat framing):
* window off: the whole history;
* LangChain ``trim_messages`` (strategy "last", system kept, start on a human
  message) at the same budget: the newest messages that fit;
* tokenomy ``ConversationWindow`` at the same budget, with the extractive summary
  of evicted turns, and without a summary.
For each late question we check whether the fact's value is anywhere in what is
sent besides the question. Also the window's latency per turn (warm embeddings).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "core"),
    str(ROOT / "integrations"),
    str(ROOT / "examples" / "workloads"),
]

from build_sample_workload import parse_mt_bench_judgements, read_jsonl

from tokenomy.context import ConversationWindow
from tokenomy.tokens import TokenCounter

OUT = ROOT / "benchmarks" / "results" / "context_conversation.json"
SYSTEM = "You are a helpful assistant. Answer carefully and completely."
GREETING = "Hi! I have a long list of questions to work through with you today."
NAMES = [
    "Ottoline",
    "Perpetua",
    "Leopold",
    "Ignatius",
    "Marisol",
    "Thaddeus",
    "Wilhelmina",
    "Casimir",
    "Araminta",
    "Bartholomew",
    "Genevieve",
    "Lysander",
]
CITIES = [
    "Tallinn",
    "Cartagena",
    "Ljubljana",
    "Hobart",
    "Trondheim",
    "Valparaiso",
    "Kaunas",
    "Bergamo",
    "Tbilisi",
    "Da Nang",
]
FOODS = ["sesame", "shellfish", "kiwi fruit", "buckwheat", "celery", "mustard seed"]


def _code(rng: random.Random) -> str:
    return (
        "".join(rng.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(3)) + f"-{rng.randint(100, 999)}"
    )


FACTS = [
    (
        "By the way, my daughter's name is {v}.",
        "What is my daughter's name?",
        lambda r: r.choice(NAMES),
    ),
    (
        "Quick note: the budget for our team offsite is ${v}.",
        "What budget did I give you for the team offsite?",
        lambda r: f"{r.randint(11, 98) * 100:,}",
    ),
    (
        "I'm flying to {v} next week, by the way.",
        "Which city am I flying to next week?",
        lambda r: r.choice(CITIES),
    ),
    ("Our project's code name is {v}.", "What is our project's code name?", _code),
    (
        "For the record, my employee number is {v}.",
        "Remind me, what is my employee number?",
        lambda r: str(r.randint(100000, 999999)),
    ),
    (
        "I should mention I'm allergic to {v}.",
        "What did I say I'm allergic to?",
        lambda r: r.choice(FOODS),
    ),
    (
        "Friday's meeting is in conference room {v}.",
        "Which room is Friday's meeting in?",
        lambda r: f"{r.choice('ABCDE')}{r.randint(10, 99)}",
    ),
    (
        "My landlord is called {v}.",
        "What is my landlord's name?",
        lambda r: f"{r.choice(NAMES)} {r.choice(['Okafor', 'Lindqvist', 'Moreau', 'Haddad'])}",
    ),
]


def load_turns(data: Path) -> list[tuple[str, str]]:
    """(user question, GPT-4 answer) pairs, two per MT-Bench question, in order."""
    questions = {
        q["question_id"]: q for q in read_jsonl(data / "fastchat" / "mt_bench_question.jsonl")
    }
    answers = parse_mt_bench_judgements(data / "routellm" / "mt_bench_judgements.jsonl", questions)
    pairs = []
    for (qid, model), (a1, a2) in sorted(answers.items()):
        if model.startswith("gpt-4"):
            q1, q2 = questions[qid]["turns"]
            pairs.append([(q1, a1), (q2, a2)])
    return [p for pair in pairs for p in pair], len(pairs)  # type: ignore[return-value]


def build_chat(
    rng: random.Random, blocks: list[list[tuple[str, str]]], budget: int, counter: TokenCounter
) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """The history (ending after an assistant answer) and its (question, value) facts."""
    facts = [
        (s.format(v=v), q, v) for (s, q, gen), v in ((f, f[2](rng)) for f in rng.sample(FACTS, 3))
    ]
    history = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": GREETING},
        {"role": "assistant", "content": "Happy to help. What is the first one?"},
    ]
    user_turn = 1
    for block in rng.sample(blocks, len(blocks)):
        for question, answer in block:
            user_turn += 1
            if user_turn in (2, 4, 6):
                question = f"{facts[(user_turn - 2) // 2][0]} Anyway: {question}"
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        if user_turn >= 6 and counter.count_messages(history) > 4 * budget:
            break
    return history, [(q, v) for _, q, v in facts]


def trim_last(messages: list[dict[str, str]], budget: int) -> list[dict[str, str]]:
    from langchain_core.messages import (
        convert_to_messages,
        convert_to_openai_messages,
        trim_messages,
    )

    counter = TokenCounter()
    kept = trim_messages(
        convert_to_messages(messages),
        max_tokens=budget,
        strategy="last",
        include_system=True,
        start_on="human",
        token_counter=lambda ms: counter.count_messages(convert_to_openai_messages(ms)),
    )
    return convert_to_openai_messages(kept)


def has(value: str, sent: list[Any], question: str) -> bool:
    text = " ".join(str(m["content"]) for m in sent if m["content"] != question)
    return value.lower() in text.lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2048)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    args = parser.parse_args()
    counter = TokenCounter()
    flat, n_blocks = load_turns(args.data)
    blocks = [flat[i : i + 2] for i in range(0, len(flat), 2)]
    rng = random.Random(7)
    methods = ["off", "trim_messages", "window", "window_no_summary"]
    sent: dict[str, list[int]] = {m: [] for m in methods}
    kept: dict[str, list[bool]] = {m: [] for m in methods}
    latency: list[float] = []
    history_tokens: list[int] = []
    for c in range(args.chats):
        history, facts = build_chat(rng, blocks, args.budget, counter)
        history_tokens.append(counter.count_messages(history))
        windows = {
            "window": ConversationWindow(
                max_tokens=args.budget, overlap_tokens=512, summary_tokens=256
            ),
            "window_no_summary": ConversationWindow(
                max_tokens=args.budget, overlap_tokens=512, summarizer=None
            ),
        }
        prompts = [history[: i + 1] for i, m in enumerate(history) if m["role"] == "user"]
        prompts += [[*history, {"role": "user", "content": q}] for q, _ in facts]
        for k, prompt in enumerate(prompts):
            late = k >= len(prompts) - len(facts)
            results = {"off": prompt, "trim_messages": trim_last(prompt, args.budget)}
            for name, window in windows.items():
                t0 = time.perf_counter()
                results[name] = list(window.fit(prompt, session=f"chat{c}").messages)
                if name == "window":
                    latency.append(time.perf_counter() - t0)
            for name, out in results.items():
                sent[name].append(counter.count_messages(out))
                if late:
                    question, value = facts[k - (len(prompts) - len(facts))]
                    kept[name].append(has(value, out, question))
        print(f"chat {c + 1}/{args.chats}: {history_tokens[-1]} tokens of history", file=sys.stderr)
    rows = []
    for name in methods:
        rows.append(
            {
                "method": name,
                "mean_tokens_per_turn": round(statistics.mean(sent[name]), 1),
                "max_tokens_per_turn": max(sent[name]),
                "total_tokens": sum(sent[name]),
                "vs_off": round(sum(sent[name]) / sum(sent["off"]), 3),
                "late_facts_kept": round(sum(kept[name]) / len(kept[name]), 3),
            }
        )
    print(
        f"{args.chats} chats, {len(sent['off'])} turns, budget {args.budget} tokens, "
        f"history median {statistics.median(history_tokens):.0f} tokens"
    )
    print(f"{'method':<20}{'mean/turn':>10}{'max/turn':>10}{'vs off':>8}{'facts kept':>12}")
    for r in rows:
        print(
            f"{r['method']:<20}{r['mean_tokens_per_turn']:>10}{r['max_tokens_per_turn']:>10}"
            f"{r['vs_off']:>8.2f}{r['late_facts_kept']:>12.0%}"
        )
    lat = sorted(latency)
    p50, p95 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.95)] * 1000
    print(f"window latency per turn: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "chats": args.chats,
                "budget": args.budget,
                "turns": len(sent["off"]),
                "late_questions": len(kept["off"]),
                "mt_bench_questions": n_blocks,
                "history_tokens_median": statistics.median(history_tokens),
                "rows": rows,
                "window_latency_ms": {"p50": round(p50, 2), "p95": round(p95, 2)},
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
