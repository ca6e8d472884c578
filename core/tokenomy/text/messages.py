"""Reading OpenAI-style message dicts: their text, a role label, a fingerprint, the
current question. Shared by the techniques (window, compression, routing) and the
adapters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tokenomy.text.segment import split_sentences

__all__ = [
    "fingerprint",
    "input_messages",
    "labelled",
    "last_user_message",
    "message_text",
    "output_text",
    "trailing_question",
]

_QUESTION_CHARS = 400
_ROLES = {"user": "User", "human": "User", "assistant": "Assistant", "ai": "Assistant"}


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: its text content blocks and its tool calls."""
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, Sequence):
        for block in content:
            if isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, str):
                parts.append(block)
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            fn = call.get("function", call)
            if isinstance(fn, Mapping):
                args = fn.get("arguments", fn.get("args", ""))
                parts.append(f"{fn.get('name', '')}({_dumps(args)})")
    return "\n".join(p for p in parts if p)


def last_user_message(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest user message (the current question), or None."""
    found = [m for m in messages if m.get("role") in ("user", "human")]
    return found[-1] if found else None


def labelled(message: Mapping[str, Any]) -> str:
    """``"User: …"``: a message's text with its role, for summaries."""
    role = str(message.get("role", ""))
    return f"{_ROLES.get(role, role.title() or 'Message')}: {message_text(message)}"


def _dumps(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def fingerprint(message: Mapping[str, Any]) -> str:
    """A short hash of a message's role and text."""
    text = f"{message.get('role')}\x00{message_text(message)}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def trailing_question(text: str) -> str | None:
    """The question at the end of a user message: its last paragraph, or last sentence.

    RAG prompts put the retrieved context first and the question last; this is
    what compression uses as the query and always keeps.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    last = text.strip().split("\n\n")[-1].strip()
    if len(last) < _QUESTION_CHARS:
        return last
    sentences = split_sentences(last)
    return sentences[-1] if sentences else None


def _input_message(item: Mapping[str, Any]) -> dict[str, Any]:
    if item.get("type", "message") == "message" and "role" in item:
        content = item.get("content")
        if isinstance(content, list):
            text = "".join(
                str(p.get("text") or "")
                for p in content
                if isinstance(p, Mapping) and p.get("type") in ("input_text", "output_text", "text")
            )
            images = [
                p for p in content if isinstance(p, Mapping) and p.get("type") == "input_image"
            ]
            parts: Any = [{"type": "text", "text": text}, *images] if images else text
            return {"role": str(item["role"]), "content": parts}
        return {"role": str(item["role"]), "content": "" if content is None else str(content)}
    call = item.get("call_id")
    if item.get("type") == "function_call" and isinstance(call, str):
        function = {"name": str(item.get("name") or ""), "arguments": _dumps(item.get("arguments"))}
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": call, "type": "function", "function": function}],
        }
    if item.get("type") == "function_call_output" and isinstance(call, str):
        return {"role": "tool", "tool_call_id": call, "content": _dumps(item.get("output"))}
    return {"role": "user", "content": _dumps(dict(item))}


def input_messages(given: Any, instructions: Any = None) -> list[dict[str, Any]] | None:
    """A Responses API ``input`` (a string, or items) and its ``instructions`` as chat
    messages: a message item keeps its role and text parts, a function call is an
    assistant tool call and its output the tool's message; any other item (reasoning,
    a built-in tool's call) becomes a user-side record of its JSON. None when ``input``
    is neither a non-empty string nor a non-empty list of objects.

    Example:
        >>> input_messages("Hi", "Be brief.")
        [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(given, str) and given:
        items: list[Mapping[str, Any]] = [{"role": "user", "content": given}]
    elif isinstance(given, list) and given and all(isinstance(i, Mapping) for i in given):
        items = list(given)
    else:
        return None
    messages = [_input_message(i) for i in items]
    if isinstance(instructions, str) and instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    return messages


def output_text(output: Any) -> str:
    """The text of a Responses API ``output``: its messages' text (or refusal) parts;
    any other item (a function call) as its JSON, which is then the answer.

    Example:
        >>> output_text([{"type": "message", "content": [{"type": "output_text", "text": "4"}]}])
        '4'
    """
    text = ""
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, Mapping):
                    text += str(part.get("text") or part.get("refusal") or "")
        else:
            text += _dumps(dict(item))
    return text
