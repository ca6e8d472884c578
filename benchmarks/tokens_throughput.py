"""Counting throughput: tokenomy against raw tiktoken, same encoding, same texts.

Command (from the repository root):
    python benchmarks/tokens_throughput.py [--repeats 15]

Writes benchmarks/results/tokens_throughput.json. Texts: the NaturalQuestions
passages, questions and MT-Bench turns of the bundled sample workload, in three
sizes (a question, a ~100-word passage, a 20-passage RAG context), and the chat
requests of the workload for chat counting. Each timing is the median of
``--repeats`` passes over all texts; ratios compare medians from the same run.

Caveats: single-threaded; on a 2-core machine timings vary by a few percent
between runs, so the ratio (not the absolute rate) is the number to quote.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))

from tokenomy.tokens import TokenCounter, count_tokens, get_encoding

OUT = ROOT / "benchmarks" / "results" / "tokens_throughput.json"
SAMPLE = ROOT / "examples" / "workloads" / "sample.jsonl.gz"


def load_texts() -> tuple[dict[str, list[str]], list[list[dict[str, str]]]]:
    with gzip.open(SAMPLE, "rt") as f:
        calls = [json.loads(line) for line in f if line.strip()]
    short, medium, chats = [], [], []
    for c in calls:
        chats.append(c["messages"])
        for m in c["messages"]:
            text = m["content"]
            (short if len(text) < 300 else medium).append(text)
    long = ["\n\n".join(medium[i : i + 20]) for i in range(0, len(medium) - 20, 20)]
    return {"short": short, "medium": medium, "long": long}, chats


def timed(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    times, total = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        total = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    texts, chats = load_texts()
    enc = get_encoding("o200k_base")
    counter = TokenCounter("gpt-4o")
    rows = []
    for size, items in texts.items():
        raw_t, raw_n = timed(
            lambda items=items: sum(len(enc.encode_ordinary(t)) for t in items), args.repeats
        )
        raw_enc_t, _ = timed(
            lambda items=items: sum(len(enc.encode(t, disallowed_special=())) for t in items),
            args.repeats,
        )
        ours_t, ours_n = timed(
            lambda items=items: sum(counter.count(t) for t in items), args.repeats
        )
        fn_t, fn_n = timed(
            lambda items=items: sum(count_tokens(t, model="gpt-4o").tokens for t in items),
            args.repeats,
        )
        assert raw_n == ours_n == fn_n, "counts differ from tiktoken"
        rows.append(
            {
                "texts": size,
                "n": len(items),
                "tokens": raw_n,
                "tiktoken_encode_ordinary_tok_s": raw_n / raw_t,
                "tiktoken_encode_tok_s": raw_n / raw_enc_t,
                "TokenCounter.count_tok_s": ours_n / ours_t,
                "count_tokens_tok_s": fn_n / fn_t,
                "ratio_counter_vs_encode_ordinary": raw_t / ours_t,
                "ratio_count_tokens_vs_encode_ordinary": raw_t / fn_t,
                "ratio_count_tokens_vs_encode": raw_enc_t / fn_t,
            }
        )
    chat_t, chat_n = timed(lambda: sum(counter.count_messages(m) for m in chats), args.repeats)
    body_t, _ = timed(
        lambda: sum(
            len(enc.encode_ordinary(x["content"])) + len(enc.encode_ordinary(x["role"]))
            for m in chats
            for x in m
        ),
        args.repeats,
    )
    chat = {
        "requests": len(chats),
        "tokens": chat_n,
        "count_messages_tok_s": chat_n / chat_t,
        "tiktoken_on_same_strings_tok_s": chat_n / body_t,
        "ratio": body_t / chat_t,
    }

    print(
        f"{'texts':8} {'n':>6} {'tokens':>9} {'tiktoken tok/s':>15} {'ours tok/s':>12} "
        f"{'ratio':>6} {'count_tokens()':>15} {'ratio':>6} {'vs encode()':>11}"
    )
    for r in rows:
        print(
            f"{r['texts']:8} {r['n']:>6} {r['tokens']:>9,} "
            f"{r['tiktoken_encode_ordinary_tok_s']:>15,.0f} "
            f"{r['TokenCounter.count_tok_s']:>12,.0f} "
            f"{r['ratio_counter_vs_encode_ordinary']:>6.3f} {r['count_tokens_tok_s']:>15,.0f} "
            f"{r['ratio_count_tokens_vs_encode_ordinary']:>6.3f} "
            f"{r['ratio_count_tokens_vs_encode']:>11.3f}"
        )
    print(
        f"chat requests: {chat['requests']} ({chat['tokens']:,} tokens): count_messages "
        f"{chat['count_messages_tok_s']:,.0f} tok/s vs tiktoken on the same strings "
        f"{chat['tiktoken_on_same_strings_tok_s']:,.0f} tok/s (ratio {chat['ratio']:.3f})"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "benchmark": "tokens_throughput",
                "repeats": args.repeats,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "texts": rows,
                "chat": chat,
            },
            indent=1,
        )
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
