"""Shared-context grouping: concurrent requests with the same long context answered by
one upstream call (questions numbered, answers split back), a failed split falls back
to separate calls, off by default, and only plain chat requests with the same context
are grouped."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from gateway_support import aclient

from tokenomy.serve import TRACE_HEADER
from tokenomy.serve.grouping import merge_questions, question_of, split_answers, split_response

DOC = "The Amazon is a river in South America. " * 80  # ~3,300 characters
ON = {"enabled": True, "max_wait_ms": 2000, "min_context_chars": 1000}
# a full group goes at once; the long wait only keeps a slow machine from splitting it


def ask(question: str, doc: str = DOC) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Answer from this document:\n{doc}"},
        {"role": "user", "content": question},
    ]


def burst(url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    async def run() -> list[Any]:
        api = aclient(url)
        return await asyncio.gather(
            *(
                api.chat.completions.with_raw_response.create(model="gpt-4o-mini", **b)
                for b in bodies
            )
        )

    return asyncio.run(run())


def content(raw: Any) -> str:
    return str(raw.parse().choices[0].message.content)


def test_questions_sharing_a_context_are_answered_by_one_call(serve_gateway, upstream):
    upstream.numbered = True
    url = serve_gateway(grouping={**ON, "max_size": 4})
    raws = burst(url, [{"messages": ask(f"Question {i}?"), "max_tokens": 20} for i in range(4)])
    assert [content(r) for r in raws] == [f"Echo: Question {i}?" for i in range(4)]
    assert upstream.total == 1
    sent = upstream.requests[-1]["body"]
    assert sent["messages"][0]["content"].count("The Amazon") == 80  # the context once
    assert sent["max_tokens"] == 80  # the answer caps added up
    usage = [r.parse().usage for r in raws]
    assert sum(u.prompt_tokens for u in usage) == upstream_usage(sent)["prompt_tokens"]
    stages = json.loads(raws[0].headers[TRACE_HEADER])["stages"]
    assert any(s["stage"] == "group" and s["outcome"] == "shared" for s in stages)


def upstream_usage(body: dict[str, Any]) -> dict[str, int]:
    from fake_openai import FakeOpenAI

    fake = FakeOpenAI()
    fake.numbered = True
    return dict(fake.chat(body)["usage"])


def test_a_failed_split_falls_back_to_separate_calls(serve_gateway, upstream):
    upstream.numbered = "drop"  # the grouped answer misses its last number
    url = serve_gateway(grouping={**ON, "max_size": 3})
    raws = burst(url, [{"messages": ask(f"Question {i}?")} for i in range(3)])
    assert [content(r) for r in raws] == [f"Echo: Question {i}?" for i in range(3)]
    assert upstream.total == 4  # the grouped call, then one each
    stages = json.loads(raws[0].headers[TRACE_HEADER])["stages"]
    assert any(s["stage"] == "group" and s["outcome"] == "alone" for s in stages)


def test_grouping_is_off_by_default(serve_gateway, upstream):
    upstream.numbered = True
    url = serve_gateway()
    raws = burst(url, [{"messages": ask(f"Question {i}?")} for i in range(3)])
    assert [content(r) for r in raws] == [f"Echo: Question {i}?" for i in range(3)]
    assert upstream.total == 3


def test_only_requests_with_the_same_context_and_no_tools_are_grouped(serve_gateway, upstream):
    upstream.numbered = True
    url = serve_gateway(grouping={**ON, "max_wait_ms": 300})
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    bodies = [
        {"messages": ask("A?")},
        {"messages": ask("B?", doc=DOC.replace("South", "North"))},  # another context
        {"messages": ask("C?"), "tools": [tool]},
        {"messages": ask("D?", doc="short")},  # too short to group
    ]
    raws = burst(url, bodies)
    assert [content(r) for r in raws] == ["Echo: A?", "Echo: B?", "Echo: C?", "Echo: D?"]
    assert upstream.total == 4


def test_prefix_grouping_shares_the_leading_part_of_one_message(serve_gateway, upstream):
    upstream.numbered = True
    url = serve_gateway(grouping={**ON, "by": "prefix", "max_size": 3})
    bodies = [
        {"messages": [{"role": "user", "content": f"{DOC}\n\nQuestion: q{i}"}]} for i in range(3)
    ]
    raws = burst(url, bodies)
    assert [content(r) for r in raws] == [f"Echo: Question: q{i}" for i in range(3)]
    assert upstream.total == 1


def test_split_answers_needs_every_number_in_order():
    assert split_answers("[1] a\n[2] b\nmore of b\n[3] c", 3) == ["a", "b\nmore of b", "c"]
    assert split_answers("[1] a\n[3] c\n[2] b", 3) is None
    assert split_answers("[1] a\n[2]\n[3] c", 3) is None
    assert split_answers("[1] a\n[2] b\n[3] c\n[4] d", 3) is None


def test_answers_that_repeat_or_rephrase_the_question_do_not_split():
    asked = ["Question: when did the eagles last play", "Question: who won in 2017"]
    assert split_answers("[1] Question: when did the eagles last play\n[2] 2017", 2) is None
    assert split_answers("[1] 2017\n[2] who won in 2017", 2, asked) is None
    assert split_answers("[1] 2017\n[2] How many games were won", 2) is None
    assert split_answers("[1] Answer: 2017\n[2] The Astros.", 2, asked) == ["2017", "The Astros."]


REAL = Path(__file__).parent / "data" / "smollm2_grouped.jsonl"


def test_real_grouped_answers_split_only_when_they_answer():
    """SmolLM2-135M's grouped answers (recorded by benchmarks/serve_grouping_real.py),
    each labelled by hand: does it copy or rephrase the questions instead of answering?"""
    rows = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()]
    copies_in_order = answers_in_order = 0
    for row in rows:
        n = len(row["questions"])
        parts = split_answers(row["content"], n, row["questions"])
        numbers = [int(m) for m in re.findall(r"(?m)^\s*\[(\d+)\]", row["content"])]
        in_order = numbers == list(range(1, n + 1))
        if row["copies_questions"]:
            assert parts is None, row["content"]
            copies_in_order += in_order
        elif in_order:
            assert parts is not None and len(parts) == n, row["content"]
            answers_in_order += 1
        else:
            assert parts is None, row["content"]
    # the numbers alone would have split these copies: the questions back as answers
    assert copies_in_order == 11 and answers_in_order == 5


def test_a_cut_answer_does_not_split():
    response = {
        "id": "x",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"content": "[1] a\n[2]"}}],
    }
    assert split_response(response, 2) is None
    response["choices"][0].update(finish_reason="stop", message={"content": "[1] a\n[2] b"})
    response["usage"] = {"prompt_tokens": 101, "completion_tokens": 6, "total_tokens": 107}
    parts = split_response(response, 2)
    assert parts is not None and [p["usage"]["prompt_tokens"] for p in parts] == [51, 50]


def test_merge_keeps_the_callers_body_unchanged():
    body = {"model": "m", "messages": ask("q1"), "max_tokens": 5}
    before = json.dumps(body)
    q1, q2 = question_of(body, "messages"), question_of({**body, "messages": ask("q2")}, "messages")
    assert q1 is not None and q2 is not None
    merged = merge_questions([q1, q2])
    asked = merged["messages"][-1]["content"]
    assert asked.startswith("[1] q1\n[2] q2\n\n") and asked.endswith("repeat the questions.")
    assert merged["max_tokens"] == 10 and json.dumps(body) == before


@pytest.mark.parametrize(
    "extra", [{"stream": True}, {"n": 2}, {"response_format": {"type": "json_object"}}]
)
def test_streams_several_choices_and_json_mode_are_not_grouped(extra):
    assert question_of({"messages": ask("q"), **extra}, "messages") is None
