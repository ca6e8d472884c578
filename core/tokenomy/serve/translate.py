"""OpenAI request bodies to and from the pipeline's neutral request.

The client's body is forwarded as it came (the unknown fields of newer SDKs too),
except for what the pipeline chose to send (shortened messages or prompt, a
planned ``max_tokens``, the upstream's model name) and tokenomy's own ``tokenomy``
field. The cache partition (``Request.llm``) is the model and every generation
parameter; fields that do not change the answer (``stream``, ``user``,
``metadata``…) stay out of it, and so does anything secret (the body holds none:
keys travel in headers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tokenomy.pipeline import Request, Sent, answer_cap

__all__ = ["BadRequestError", "Options", "key_body", "llm_key", "needs", "outgoing"]

Json = dict[str, Any]

NOT_PARAMETERS = frozenset(
    {
        "messages",
        "prompt",
        "input",
        "tools",
        "stream",
        "stream_options",
        "user",
        "tokenomy",
        "metadata",
        "store",
    }
)
"""Body fields that are not generation parameters (or are keyed separately)."""
STREAM_FIELDS = ("stream", "stream_options")


class BadRequestError(Exception):
    """The client's request is malformed; the message says what to send instead."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


@dataclass(frozen=True)
class Options:
    """tokenomy's per-request options: a ``tokenomy`` object in the body (the openai
    client's ``extra_body``) or ``X-Tokenomy-*`` headers.

    Attributes:
        trace: add a ``tokenomy`` field (the trace) to the response or last chunk.
        session: the conversation's id, for conversation windows.
        tags: ledger attribution (``feature``, ``team``…).
        cache: False to skip the cache and the de-duplication window
            (also ``Cache-Control: no-cache``).
        deferrable: the answer may wait for the upstream's Batch API (a discount;
            also ``X-Tokenomy-Deferrable: 1``), when the gateway enables it.
    """

    trace: bool = False
    session: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    cache: bool = True
    deferrable: bool = False

    @classmethod
    def read(cls, body: Mapping[str, Any], headers: Mapping[str, str]) -> Options:
        own = body.get("tokenomy") or {}
        if not isinstance(own, Mapping):
            raise BadRequestError(
                '\'tokenomy\' must be an object such as {"trace": true, "session": "s1", '
                '"tags": {"feature": "faq"}, "cache": false}.',
                "tokenomy",
            )
        unknown = sorted(set(own) - {"trace", "session", "tags", "cache", "deferrable"})
        if unknown:
            raise BadRequestError(
                f"unknown tokenomy option(s) {unknown}; valid: cache, deferrable, session, "
                "tags, trace.",
                "tokenomy",
            )
        tags = dict(own.get("tags") or {})
        header_tags = headers.get("x-tokenomy-tags")
        if header_tags:
            for pair in header_tags.split(","):
                name, _, value = pair.partition("=")
                if name.strip() and value.strip():
                    tags.setdefault(name.strip(), value.strip())
        no_cache = "no-cache" in headers.get("cache-control", "").lower()
        return cls(
            trace=bool(own.get("trace")) or _truthy(headers.get("x-tokenomy-trace")),
            session=str(own.get("session") or headers.get("x-tokenomy-session") or "") or None,
            tags={str(k): str(v) for k, v in tags.items()},
            cache=own.get("cache", True) is not False and not no_cache,
            deferrable=bool(own.get("deferrable")) or _truthy(headers.get("x-tokenomy-deferrable")),
        )


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


def llm_key(kind: str, model: str, upstream_model: str | None, body: Mapping[str, Any]) -> str:
    """The cache partition of a request: its kind, model and generation parameters.

    Example:
        >>> llm_key("chat", "m", "m", {"messages": [], "temperature": 0, "stream": True})
        '["chat","m","m",{"temperature":0}]'
    """
    params = {k: v for k, v in body.items() if k not in NOT_PARAMETERS}
    return json.dumps([kind, model, upstream_model, params], sort_keys=True, separators=(",", ":"))


def needs(body: Mapping[str, Any]) -> frozenset[str]:
    """The capabilities the answering model needs (for routing)."""
    out: set[str] = set()
    if body.get("tools"):
        out.add("tools")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        out.add("json")
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
            isinstance(b, Mapping) and b.get("type") in ("image_url", "input_image")
            for b in content
        ):
            out.add("vision")
    return frozenset(out)


def max_tokens_of(body: Mapping[str, Any]) -> int | None:
    """The client's answer cap (``max_completion_tokens``, else ``max_tokens``)."""
    return answer_cap(body.get("max_completion_tokens")) or answer_cap(body.get("max_tokens"))


def chat_request(
    body: Mapping[str, Any],
    *,
    model: str | None,
    llm: str,
    scope: str,
    options: Options,
    tags: Mapping[str, str],
) -> Request:
    """The neutral request of a ``/v1/chat/completions`` body.

    Raises:
        BadRequestError: no messages, or a message that is not an object.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("'messages' must be a non-empty list of message objects.", "messages")
    if not all(isinstance(m, Mapping) for m in messages):
        raise BadRequestError("every item of 'messages' must be an object with a role.", "messages")
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, Mapping) for t in tools)
    ):
        raise BadRequestError("'tools' must be a list of tool objects.", "tools")
    return Request(
        messages=tuple(messages),
        model=model,
        llm=llm,
        tools=tuple(tools) if tools else None,
        max_tokens=max_tokens_of(body),
        scope=scope,
        session=options.session,
        tags=tags,
        require=needs(body),
    )


def outgoing(body: Mapping[str, Any], sent: Sent, model: str, *, stream: bool, usage: bool) -> Json:
    """What the upstream is sent: the client's body with the pipeline's choices.

    Args:
        body: the client's body.
        sent: what the pipeline chose (messages or prompt, answer cap).
        model: the upstream's model name.
        stream: ask for a stream.
        usage: with ``stream``, ask for the closing usage chunk too.
    """
    out = {k: v for k, v in body.items() if k != "tokenomy" and k not in STREAM_FIELDS}
    out["model"] = model
    if sent.prompt is not None and sent.prompt != sent.request.prompt:
        out["prompt"] = sent.prompt
    elif sent.request.prompt is None and sent.messages != sent.request.messages:
        if "input" in body:  # the Responses API: the client's items, as the stage chose
            out.update(responses_input(body, sent))
        else:
            out["messages"] = [dict(m) for m in sent.messages]
    cap = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    out = sent.params(out, "max_output_tokens" if "input" in body else cap)
    if stream:
        out["stream"] = True
        if usage:
            options = body.get("stream_options")
            out["stream_options"] = {
                **(options if isinstance(options, Mapping) else {}),
                "include_usage": True,
            }
    return out


@dataclass(frozen=True)
class _Instructions:
    """The system message that carries a Responses request's ``instructions`` (``text``:
    shortened by the context stage; None: as the client wrote them)."""

    text: str | None = None


def responses_input(body: Mapping[str, Any], sent: Sent) -> Json:
    """A Responses API body's ``input`` (and ``instructions``) as the context stage chose
    its messages: each kept item is the client's own (a function call and its output
    keep their ids), a shortened message or function output carries the shorter text,
    a summary the stage inserted is a message item."""
    given = body.get("input")
    items = [{"role": "user", "content": given}] if isinstance(given, str) else list(given or ())
    instructions = body.get("instructions")
    first: list[Json | _Instructions] = (
        [_Instructions()] if isinstance(instructions, str) and instructions else []
    )
    chosen = sent.own([*first, *items], shorten=_shorten_item, insert=_message_item)
    out: Json = {"input": [i for i in chosen if not isinstance(i, _Instructions)]}
    for i in chosen:
        if isinstance(i, _Instructions) and i.text is not None:
            out["instructions"] = i.text
    return out


def _shorten_item(item: Json | _Instructions, text: str) -> Json | _Instructions:
    if isinstance(item, _Instructions):
        return _Instructions(text)
    if item.get("type") == "function_call_output":
        return {**item, "output": text}
    if item.get("type") == "function_call":
        return item
    kept = {k: v for k, v in item.items() if k not in ("id", "status", "content")}
    return {**kept, "content": text}


def _message_item(role: str, text: str) -> Json | _Instructions:
    return {"role": role, "content": text}


def key_body(body: Mapping[str, Any]) -> Json:
    """``body`` without the fields that make no difference to the answer (streamed or
    not, the answer is the same): what identical upstream calls share a key on."""
    return {k: v for k, v in body.items() if k not in STREAM_FIELDS}
