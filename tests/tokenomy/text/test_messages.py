"""Responses API input items as chat messages (what the gateway's pipeline and the
audit read), and back."""

from tokenomy.text.messages import input_messages


def test_function_calls_and_outputs_become_tool_calls_and_tool_messages():
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "weather",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ]
    before = [dict(i) for i in items]
    messages = input_messages(items, "Be brief.")
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        # an item with no chat form is a user-side record of its JSON
        {"role": "user", "content": '{"id": "rs_1", "summary": [], "type": "reasoning"}'},
    ]
    assert items == before  # the caller's items are never changed
    assert input_messages([], None) is None and input_messages("", None) is None
