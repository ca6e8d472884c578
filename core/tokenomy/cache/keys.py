"""Cache keys: what must match exactly, what is compared by meaning, and the
partition a lookup may search.

A chat request is normalized to its messages' roles, text, tool calls and tool
results; ids, usage, response metadata and provider extras are dropped, so a
conversation whose earlier answer came from a cache (and carries a hit marker)
produces the same key as the original conversation. Then:

* ``exact``: a hash of the whole normalized request; equal means an exact hit.
* ``query``: the text of the last user turn: the part compared by meaning.
* ``context``: a hash of everything before that turn (system prompt, history,
  tools): it must be equal for a semantic hit, so the same question asked in
  another conversation is another question.
* ``partition``: a hash of the model and its parameters (``llm``), the scope
  (tenant / user) and the version; lookups only ever search inside one partition.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["CacheKey", "make_key", "normalize_messages"]

MAX_SEMANTIC_QUERY_CHARS: Final = 2000
"""Longer last turns are matched exactly only: the embedding model reads ~256
tokens, so two long prompts that differ late would look identical to it."""

_ROLE_ALIASES: Final = {
    "human": "user",
    "ai": "assistant",
    "chat": "user",
    "developer": "system",
    "function": "tool",
}


def _hash(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def _content(content: Any) -> tuple[str, list[Any]]:
    """(text, non-text blocks) of a message content."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    other: list[Any] = []
    if isinstance(content, Sequence) and not isinstance(content, bytes):
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif (
                isinstance(block, Mapping)
                and block.get("type")
                in (
                    "text",
                    "input_text",
                    "output_text",
                    None,
                )
                and "text" in block
            ):
                texts.append(str(block["text"]))
            else:
                other.append(block)
        return "".join(texts), other
    return str(content), []


def _tool_calls(calls: Any) -> list[list[Any]]:
    out = []
    for call in calls or ():
        if not isinstance(call, Mapping):
            continue
        inner = call.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else call
        args = fn.get("arguments", fn.get("args", ""))
        if isinstance(args, str):
            with contextlib.suppress(ValueError):  # keep non-JSON arguments as text
                args = json.loads(args)
        out.append([str(fn.get("name", "")), args])
    return out


def normalize_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages reduced to what the model reads: role, text, blocks, tool calls.

    Accepts OpenAI-style dicts (``role``/``content``/``tool_calls``/``tool_call_id``/
    ``name``); role aliases such as LangChain's ``human``/``ai`` are mapped to
    OpenAI's. Everything else (ids, usage, response metadata) is dropped.
    """
    out = []
    for m in messages:
        role = str(m.get("role") or m.get("type") or "user")
        role = _ROLE_ALIASES.get(role, role)
        text, blocks = _content(m.get("content"))
        item: dict[str, Any] = {"role": role, "text": text}
        if blocks:
            item["blocks"] = blocks
        calls = _tool_calls(m.get("tool_calls"))
        if calls:
            item["tool_calls"] = calls
        for key in ("tool_call_id", "name"):
            if m.get(key):
                item[key] = str(m[key])
        out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where an entry lives and how it is matched (see the module docstring).

    ``query`` is None when the request must only be matched exactly (its last
    message is not a user turn, it carries non-text blocks, or it is very long).
    """

    partition: str
    exact: str
    context: str
    query: str | None
    scope: str


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def make_key(
    prompt: str | Sequence[Mapping[str, Any]],
    *,
    llm: str = "",
    scope: str = "",
    version: str = "",
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> CacheKey:
    """Key a text prompt or an OpenAI-style chat request.

    Args:
        prompt: the prompt text, or the chat messages.
        llm: the model and its parameters (LangChain's ``llm_string``); part of the
            partition, so different models or settings never share entries.
        scope: tenant / user / any isolation key; part of the partition.
        version: a model or prompt-template version; bumping it invalidates
            every entry stored under the previous one.
        tools: tool schemas sent with the request; part of the context.
    """
    partition = _hash("p", version, llm, scope)
    tools_part = _dumps(list(tools)) if tools else ""
    if isinstance(prompt, str):
        exact = _hash("t", prompt, tools_part)
        context = _hash("c", tools_part)
        query: str | None = prompt
    else:
        normalized = normalize_messages(prompt)
        exact = _hash("m", _dumps(normalized), tools_part)
        last = normalized[-1] if normalized else None
        context = _hash("c", _dumps(normalized[:-1]), tools_part)
        query = None
        if last is not None and last["role"] == "user" and "blocks" not in last:
            query = last["text"]
    if query is not None and (not query.strip() or len(query) > MAX_SEMANTIC_QUERY_CHARS):
        query = None
    return CacheKey(partition=partition, exact=exact, context=context, query=query, scope=scope)
