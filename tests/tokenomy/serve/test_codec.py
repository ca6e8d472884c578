"""OpenAI response JSON as the pipeline's result: streams merge into the answer they
add up to, and a stored answer replays as chunks that merge back to it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.pipeline import Request, Sent
from tokenomy.serve.codec import (
    CallState,
    ChatCodec,
    CompletionCodec,
    chat_chunks,
    completion_chunks,
    merge_chat,
    merge_completion,
)


def completion(content, calls=None, finish="stop", usage=True):
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    out = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 7,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return out


def sent():
    request = Request(messages=({"role": "user", "content": "hi"},), model="gpt-4o-mini")
    return Sent(request, request.messages, (0,))


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@given(text)
def test_a_replayed_answer_merges_back_to_itself(content):
    answer = completion(content)
    assert merge_chat(list(chat_chunks(answer))) == answer


@given(st.lists(st.tuples(st.sampled_from(["get_weather", "get_time"]), text), max_size=3))
def test_tool_calls_survive_a_replay(calls):
    tool_calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(calls)
    ]
    answer = completion(None, tool_calls or None, "tool_calls" if calls else "stop")
    assert merge_chat(list(chat_chunks(answer))) == answer


def test_tool_call_fragments_merge_by_index():
    head = {"id": "c", "model": "m", "created": 1}

    def chunk(delta, finish=None):
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "b",
                        "type": "function",
                        "function": {"name": "g", "arguments": '{"x"'},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"y": 1}'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}),
        chunk({}, "tool_calls"),
        {**head, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
    ]
    merged = merge_chat(chunks)
    calls = merged["choices"][0]["message"]["tool_calls"]
    assert [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ] == [("a", "f", {"y": 1}), ("b", "g", {"x": 2})]
    assert merged["choices"][0]["finish_reason"] == "tool_calls" and merged["usage"]


def test_completions_merge_and_replay():
    answer = {
        "id": "cmpl",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "text": "Echo: hello there", "logprobs": None, "finish_reason": "stop"}
        ],
    }
    assert merge_completion(list(completion_chunks(answer))) == answer


def test_a_cut_answer_is_offered_as_cut_and_a_shared_one_costs_nothing():
    state = CallState()
    cut = ChatCodec(state).answer(completion("partial", finish="length"), sent())
    assert cut.finish_reason == "length" and cut.usage.output_tokens == 2
    state.shared = "in_flight"
    shared = ChatCodec(state).answer(completion("same"), sent())
    assert shared.usage.total_tokens == 0 and not shared.cacheable
    assert state.shared_usage.total_tokens == 5


def test_a_rebuilt_answer_is_a_new_response_and_a_bad_entry_raises():
    state = CallState()
    codec = ChatCodec(state)
    rebuilt = codec.rebuild(json.dumps(completion("x")), "exact_cache")
    assert rebuilt["id"] != "chatcmpl-1" and state.served == "exact_cache"
    for bad in ("[]", '{"id": 1}'):
        try:
            codec.rebuild(bad, "exact_cache")
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")
    assert CompletionCodec(state).kind == "completion"
