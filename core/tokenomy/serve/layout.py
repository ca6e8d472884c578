"""A prefix-cache-friendly layout: static parts first, so providers' prompt caching hits.

Providers cache the longest prompt prefix they have seen recently (OpenAI: from 1,024
tokens, in steps of 128, for about 5 minutes; tools come first, then the messages in
order) and bill it at the cached-input price. A prefix is only as long as its first
changed byte, so three habits of apps cost cache hits, and the gateway undoes them:

- **tools in varying order or key order** (dicts built per request, tools chosen per
  call): sorted by name, every schema's keys sorted (same tools, same bytes);
- **system messages after the first user turn** (instructions appended late): moved
  to the front, before any user turn, in their order (only those before the first
  assistant turn, so a conversation's history is never reordered);
- **volatile lines in a system prompt** (``Current date: 2026-12-05 02:15``, a
  request id, a UUID) at its top: moved to the end of that message, so everything
  static before them is one prefix for every call.

Nothing else is touched: message contents other than those lines, the question,
the conversation, parameters. :func:`lay_out` returns a new body (the caller's is
never changed) and what it did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["VOLATILE", "lay_out", "prefix_text"]

Json = dict[str, Any]
_SYSTEM = ("system", "developer")
VOLATILE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2})?"  # ISO dates and timestamps
    r"|\b\d{1,2}:\d{2}:\d{2}\b"  # clock times with seconds
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # UUIDs
    r"|\b(?:today is|current (?:date|time)|request id|session id|timestamp)\b",
    re.IGNORECASE,
)
"""A line of a system prompt that changes from call to call."""
_MAX_VOLATILE_LINE = 200  # longer lines are content, not a stamp


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return str(fn["name"])
        if isinstance(tool.get("name"), str):
            return str(tool["name"])
    return ""


@lru_cache(maxsize=1024)
def _volatile_last(text: str) -> tuple[str, int]:
    """``text`` with its volatile lines moved to the end, and how many moved
    (remembered: a system prompt repeats on every call of its feature)."""
    lines = text.split("\n")
    moved = [
        i
        for i, line in enumerate(lines)
        if len(line) <= _MAX_VOLATILE_LINE and VOLATILE.search(line) is not None
    ]
    if (
        not moved
        or len(moved) == len(lines)
        or moved == list(range(len(lines) - len(moved), len(lines)))
    ):
        return text, 0  # nothing to move, all volatile, or already at the end
    keep = [line for i, line in enumerate(lines) if i not in set(moved)]
    while keep and not keep[-1].strip():
        keep.pop()
    return "\n".join([*keep, "", *(lines[i] for i in moved)]), len(moved)


def lay_out(body: Mapping[str, Any]) -> tuple[Json, list[str]]:
    """``body`` (an OpenAI chat request) laid out with its static parts first.

    Returns:
        the new body (``body`` itself is not changed) and what was done, as short
        notes (empty: nothing to do).

    Example:
        >>> body = {"messages": [
        ...     {"role": "system", "content": "Current date: 2026-12-05\\nYou are terse."},
        ...     {"role": "user", "content": "hi"}],
        ...     "tools": [{"type": "function", "function": {"name": "b"}},
        ...               {"type": "function", "function": {"name": "a"}}]}
        >>> out, notes = lay_out(body)
        >>> out["messages"][0]["content"], [t["function"]["name"] for t in out["tools"]]
        ('You are terse.\\n\\nCurrent date: 2026-12-05', ['a', 'b'])
        >>> notes
        ['tools sorted', '1 volatile line moved to the end of a system message']
    """
    out = dict(body)
    notes: list[str] = []
    tools = body.get("tools")
    if isinstance(tools, list | tuple) and tools:
        laid = sorted((_canonical(t) for t in tools), key=_tool_name)
        if json.dumps(laid) != json.dumps(list(tools)):
            out["tools"] = laid
            notes.append("tools sorted")
    messages = body.get("messages")
    if not isinstance(messages, list | tuple):
        return out, notes
    first_assistant = next(
        (
            i
            for i, m in enumerate(messages)
            if isinstance(m, Mapping) and m.get("role") == "assistant"
        ),
        len(messages),
    )
    head = messages[:first_assistant]
    system = [m for m in head if isinstance(m, Mapping) and m.get("role") in _SYSTEM]
    others = [m for m in head if not (isinstance(m, Mapping) and m.get("role") in _SYSTEM)]
    laid_messages = [*system, *others, *messages[first_assistant:]]
    if any(a is not b for a, b in zip(laid_messages, messages, strict=True)):
        notes.append(f"{len(system)} system message(s) moved before the first user turn")
    moved = 0
    for i, m in enumerate(laid_messages):
        if (
            isinstance(m, Mapping)
            and m.get("role") in _SYSTEM
            and isinstance(m.get("content"), str)
        ):
            text, n = _volatile_last(m["content"])
            if n:
                laid_messages[i] = {**m, "content": text}
                moved += n
    if moved:
        notes.append(
            f"{moved} volatile line{'s' if moved > 1 else ''} moved to the end of a system message"
        )
    if notes and any(not n.startswith("tools") for n in notes):
        out["messages"] = laid_messages
    return out, notes


def prefix_text(messages: Sequence[Mapping[str, Any]] | None, tools: Any = None) -> str:
    """What a provider's prompt cache keys on, as text: the tools, then each message's
    role and content in order (for measuring shared prefixes)."""
    parts = [json.dumps(tools, separators=(",", ":")) if tools else ""]
    for m in messages or ():
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        parts.append(f"<|{m.get('role')}|>{content or ''}")
    return "".join(parts)
