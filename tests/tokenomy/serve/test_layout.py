"""The prefix-cache-friendly layout: tools sorted, late system messages moved first,
volatile system-prompt lines moved last; nothing else changes; off by default."""

from __future__ import annotations

import copy
import json

from gateway_support import client

from tokenomy.serve import TRACE_HEADER
from tokenomy.serve.layout import lay_out

TOOLS = [
    {"type": "function", "function": {"parameters": {"type": "object"}, "name": "zeta"}},
    {"type": "function", "function": {"name": "alpha", "parameters": {"type": "object"}}},
]
STAMPED = "Current time: 2026-12-05T02:15:00Z\nYou are a support assistant.\nBe brief."


def test_tools_are_sorted_by_name_with_their_keys_sorted():
    out, notes = lay_out({"messages": [], "tools": TOOLS})
    assert [t["function"]["name"] for t in out["tools"]] == ["alpha", "zeta"]
    assert list(out["tools"][1]["function"]) == ["name", "parameters"]
    assert notes == ["tools sorted"]


def test_volatile_lines_move_to_the_end_of_the_system_message():
    body = {"messages": [{"role": "system", "content": STAMPED}, {"role": "user", "content": "hi"}]}
    before = copy.deepcopy(body)
    out, _ = lay_out(body)
    assert out["messages"][0]["content"] == (
        "You are a support assistant.\nBe brief.\n\nCurrent time: 2026-12-05T02:15:00Z"
    )
    assert out["messages"][1] == {"role": "user", "content": "hi"}
    assert body == before  # the caller's body is not changed


def test_a_late_system_message_moves_first_but_history_keeps_its_order():
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "system", "content": "Answer in French."},
        {"role": "assistant", "content": "a1"},
        {"role": "system", "content": "Now answer in German."},
        {"role": "user", "content": "q2"},
    ]
    out, notes = lay_out({"messages": messages})
    assert [m["content"] for m in out["messages"]] == [
        "Answer in French.",
        "q1",
        "a1",
        "Now answer in German.",  # after the first assistant turn: left where it is
        "q2",
    ]
    assert len(notes) == 1


def test_a_laid_out_request_is_left_alone():
    body = {"messages": [{"role": "system", "content": "Static.\nToday is 2026-12-05"}]}
    assert lay_out(body) == (body, [])


def test_the_gateway_sends_the_laid_out_request_when_asked(serve_gateway, upstream):
    url = serve_gateway(prefix_layout=True)
    messages = [{"role": "system", "content": STAMPED}, {"role": "user", "content": "weather?"}]
    raw = client(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS
    )
    sent = upstream.requests[-1]["body"]
    assert sent["messages"][0]["content"].endswith("\n\nCurrent time: 2026-12-05T02:15:00Z")
    assert [t["function"]["name"] for t in sent["tools"]] == ["alpha", "zeta"]
    stages = json.loads(raw.headers[TRACE_HEADER])["stages"]
    assert any(s["stage"] == "layout" and s["outcome"] == "reordered" for s in stages)


def test_the_layout_is_off_by_default(gateway, upstream):
    messages = [{"role": "system", "content": STAMPED}, {"role": "user", "content": "hello"}]
    client(gateway).chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    sent = upstream.requests[-1]["body"]
    assert sent["messages"][0]["content"] == STAMPED
    assert [t["function"]["name"] for t in sent["tools"]] == ["zeta", "alpha"]
