"""Translating between LangChain's cache data and tokenomy's cache.

LangChain hands a chat model's cache the prompt as ``dumps(messages)`` (JSON of
constructor dicts) and stores lists of ``Generation``. Here the prompt becomes
OpenAI-style messages (role, content, tool calls; ids and metadata dropped by the
core's normalization) and generations round-trip through LangChain's own
``dumps``/``loads``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_tokenomy._convert import CACHE_HIT_KEY
from tokenomy.cache import Answer
from tokenomy.pipeline import jsonable
from tokenomy.tokens import TokenUsage, parse_usage

__all__ = ["UNCACHEABLE_KEY", "answer_from_generations", "generations_from_payload", "parse_prompt"]

UNCACHEABLE_KEY = "tokenomy_cacheable"
"""Set ``response_metadata[UNCACHEABLE_KEY] = False`` (or in ``generation_info``) on a
response to keep it out of the cache."""

_CLASS_ROLES = {
    "HumanMessage": "user",
    "AIMessage": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
    "ChatMessage": "user",
    "HumanMessageChunk": "user",
    "AIMessageChunk": "assistant",
}


def _message(item: Any) -> dict[str, Any] | None:
    if not (
        isinstance(item, dict) and item.get("lc") == 1 and isinstance(item.get("kwargs"), dict)
    ):
        return None
    kwargs = item["kwargs"]
    ident = item.get("id")
    cls = ident[-1] if isinstance(ident, list) and ident else ""
    role = kwargs.get("role") if cls == "ChatMessage" else _CLASS_ROLES.get(cls)
    if role is None:
        return None
    msg: dict[str, Any] = {"role": role, "content": kwargs.get("content", "")}
    calls = kwargs.get("tool_calls")
    if calls:
        msg["tool_calls"] = [
            {"name": c.get("name"), "args": c.get("args")} for c in calls if isinstance(c, dict)
        ]
    for key in ("tool_call_id", "name"):
        if kwargs.get(key):
            msg[key] = kwargs[key]
    return msg


def parse_prompt(prompt: str) -> str | list[dict[str, Any]]:
    """OpenAI-style messages of a serialized chat prompt, or the text of an LLM prompt.

    Anything that is not a well-formed list of serialized LangChain messages
    (including JSON that merely looks like one) is treated as plain text.
    """
    if not prompt.startswith("[{"):
        return prompt
    try:
        items = json.loads(prompt)
    except ValueError:
        return prompt
    if not isinstance(items, list) or not items:
        return prompt
    messages = [_message(item) for item in items]
    if any(m is None for m in messages):
        return prompt
    return messages  # type: ignore[return-value]


def _model_from_llm_string(llm_string: str) -> str | None:
    head = llm_string.split("---", 1)[0]
    try:
        data = json.loads(head)
    except ValueError:
        return None
    kwargs = data.get("kwargs", {}) if isinstance(data, dict) else {}
    for key in ("model_name", "model", "model_id"):
        if isinstance(kwargs.get(key), str):
            return str(kwargs[key])
    return None


def answer_from_generations(generations: Sequence[Generation], llm_string: str) -> Answer:
    """An :class:`~tokenomy.cache.Answer` describing what LangChain wants stored."""
    texts: list[str] = []
    usage: TokenUsage | None = None
    finish: str | None = None
    cacheable = True
    model = _model_from_llm_string(llm_string)
    generations = [_json_safe(g) for g in generations]
    for gen in generations:
        info = gen.generation_info or {}
        finish = finish or info.get("finish_reason")
        cacheable = cacheable and info.get(UNCACHEABLE_KEY, True) is not False
        text = gen.text
        if isinstance(gen, ChatGeneration) and isinstance(gen.message, AIMessage):
            msg = gen.message
            meta = msg.response_metadata or {}
            finish = finish or meta.get("finish_reason") or meta.get("stop_reason")
            cacheable = cacheable and meta.get(UNCACHEABLE_KEY, True) is not False
            model = meta.get("model_name") or meta.get("model") or model
            if msg.tool_calls:
                text += json.dumps([c["name"] for c in msg.tool_calls])
            if usage is None and msg.usage_metadata:
                usage = parse_usage(msg.usage_metadata)
        texts.append(text)
    return Answer(
        payload=dumps(list(generations)),
        text="".join(texts),
        model=model,
        usage=usage,
        finish_reason=str(finish) if finish else None,
        cacheable=cacheable,
    )


def _json_safe(generation: Generation) -> Generation:
    """A generation whose metadata LangChain's ``loads`` can read back: datetime,
    Decimal, UUID, bytes and sets in provider metadata would otherwise be dumped as
    "not implemented" objects, and every later hit on the entry would raise."""
    update: dict[str, Any] = {}
    if generation.generation_info:
        update["generation_info"] = jsonable(generation.generation_info)
    if isinstance(generation, ChatGeneration):
        message = generation.message
        update["message"] = message.model_copy(
            update={
                "response_metadata": jsonable(message.response_metadata or {}),
                "additional_kwargs": jsonable(message.additional_kwargs or {}),
            }
        )
    return generation.model_copy(update=update) if update else generation


def generations_from_payload(payload: str, technique: str) -> list[Generation]:
    """The stored generations; chat messages are marked as served by ``technique``.

    Plain text ``Generation`` objects are returned as stored: LangChain fires no
    callback for a text-LLM prompt served from the cache, so a marker would reach
    no one, and the standard cache suite expects them back unchanged.
    """
    out: list[Generation] = []
    for gen in loads(payload, allowed_objects="core"):
        if isinstance(gen, ChatGeneration) and isinstance(gen.message, AIMessage):
            meta = {**(gen.message.response_metadata or {}), CACHE_HIT_KEY: technique}
            # id None: LangChain gives each served copy its run's id, so agent state
            # reducers do not mistake a second hit for the first message.
            out.append(
                gen.model_copy(
                    update={
                        "message": gen.message.model_copy(
                            update={"response_metadata": meta, "id": None}
                        )
                    }
                )
            )
        else:
            out.append(gen)
    return out
