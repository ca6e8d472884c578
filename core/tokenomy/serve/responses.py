"""The OpenAI Responses API (``POST /v1/responses``) through the pipeline.

A request's ``instructions`` and ``input`` (a string, or message items) become the
neutral request's messages, so the budget, the cache, routing, the answer cap
(``max_output_tokens``) and the ledger apply as on chat completions; the upstream is
sent the client's body with the pipeline's choices (the model, the cap). Items that
are not messages count as the chat messages they stand for (a function call as an
assistant tool call, its output as the tool's message) or, any other (reasoning, an
image), as their JSON. When every item maps back (text messages, function calls and
their text outputs), the context stage (window, compression) applies too: a kept item
is sent as the client wrote it, a shortened one with the shorter text, and a function
call always with its output; any other item keeps the input whole. A stream's events add up to the
response of its closing event; a cached response is replayed as the events a streaming
upstream sends. A deferrable request goes through the Batch API (``/v1/responses`` jobs).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tokenomy.cache import Answer
from tokenomy.pipeline import Request, Sent, Trace, replay_pieces
from tokenomy.serve.codec import ChatCodec, trace_dict
from tokenomy.serve.translate import BadRequestError, Options, chat_request
from tokenomy.text.messages import input_messages, output_text
from tokenomy.tokens.usage import TokenUsage

__all__ = [
    "ResponsesCodec",
    "merge_response",
    "response_events",
    "responses_request",
    "shapeable_input",
]

Json = dict[str, Any]


def shapeable_input(body: Mapping[str, Any]) -> bool:
    """Whether the context stage may shorten ``input``: a string, or items that are
    text messages (a string or text parts), function calls and their text outputs,
    each call with its output (an output whose call is in a previous response stays
    whole); each maps back to the client's own item. Any other item (an image,
    reasoning, a built-in tool's call) leaves the input as the client wrote it."""
    given = body.get("input")
    if isinstance(given, str):
        return True
    if not isinstance(given, list) or not all(_shapeable(i) for i in given):
        return False
    calls = [i["call_id"] for i in given if i.get("type") == "function_call"]
    outputs = [i["call_id"] for i in given if i.get("type") == "function_call_output"]
    return sorted(calls) == sorted(outputs)  # each call with its output, in this input


def _shapeable(item: Any) -> bool:
    if not isinstance(item, Mapping):
        return False
    kind = item.get("type", "message")
    if kind in ("function_call", "function_call_output"):
        return isinstance(item.get("call_id"), str) and (
            kind == "function_call" or isinstance(item.get("output"), str)
        )
    if kind != "message" or "role" not in item:
        return False
    content = item.get("content")
    return not isinstance(content, list) or all(
        isinstance(p, Mapping) and p.get("type") in ("input_text", "output_text", "text")
        for p in content
    )


def responses_request(
    body: Mapping[str, Any],
    *,
    model: str | None,
    llm: str,
    scope: str,
    options: Options,
    tags: Mapping[str, str],
) -> Request:
    """The neutral request of a ``/v1/responses`` body.

    Raises:
        BadRequestError: no ``input``, or an item that is not an object.
    """
    messages = input_messages(body.get("input"), body.get("instructions"))
    if messages is None:
        raise BadRequestError(
            "'input' must be a non-empty string or a non-empty list of input items.", "input"
        )
    cap = body.get("max_output_tokens")
    chat = {**body, "messages": messages, "max_tokens": cap}  # the same request, chat-shaped
    chat.pop("max_completion_tokens", None)
    return chat_request(chat, model=model, llm=llm, scope=scope, options=options, tags=tags)


def usage_of_response(result: Json) -> TokenUsage | None:
    """The provider-reported usage of a Responses API result, if any."""
    usage = result.get("usage")
    if not isinstance(usage, dict):
        return None
    details = usage.get("input_tokens_details") or {}
    out_details = usage.get("output_tokens_details") or {}
    return TokenUsage(
        int(usage.get("input_tokens") or 0),
        int(usage.get("output_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
    )


class ResponsesCodec(ChatCodec):
    """``response`` objects of the Responses API (not streamed)."""

    def answer(self, result: Json, sent: Sent) -> Answer:
        text = output_text(result.get("output"))
        cut = result.get("status") != "completed"  # cut by its cap, or a stream cut short
        return self._answer(
            result, sent, text, "length" if cut else None, usage_of_response(result)
        )

    def rebuild(self, payload: str, served: str) -> Json:
        result = json.loads(payload)
        if not isinstance(result, dict) or not isinstance(result.get("output"), list):
            raise ValueError("a stored gateway answer must be a Responses API object")
        self.state.served = served
        return result  # its id stays: the upstream stored it, so previous_response_id works

    def merge(self, chunks: Sequence[Json]) -> Json:
        return merge_response(chunks)

    def replay(self, result: Json) -> Iterator[Json]:
        return response_events(result)

    def trace_chunk(self, trace: Trace) -> Json:
        """A closing event of its own type that carries the trace (asked for only)."""
        return {"type": "tokenomy.trace", "tokenomy": trace_dict(trace)}


_CLOSING = ("response.completed", "response.incomplete", "response.failed")


def merge_response(chunks: Sequence[Json]) -> Json:
    """The response a stream of Responses API events adds up to: its closing event's
    response, else (a stream cut short) the text of its deltas, marked incomplete.

    Example:
        >>> merge_response([{"type": "response.created", "response": {"id": "r1"}},
        ...                 {"type": "response.output_text.delta", "delta": "Hi"}])["status"]
        'incomplete'
    """
    for event in reversed(chunks):
        if event.get("type") in _CLOSING and isinstance(event.get("response"), dict):
            return dict(event["response"])
    head = next((e["response"] for e in chunks if isinstance(e.get("response"), dict)), {"id": ""})
    text = "".join(
        str(e.get("delta") or "") for e in chunks if e.get("type") == "response.output_text.delta"
    )
    part = {"type": "output_text", "text": text, "annotations": []}
    message = {"type": "message", "role": "assistant", "status": "incomplete", "content": [part]}
    return {
        **head,
        "status": "incomplete",
        "incomplete_details": {"reason": "interrupted"},
        "output": [message],
        "usage": None,
    }


def response_events(result: Json) -> Iterator[Json]:
    """A response as the events a streaming upstream sends: created, each output item
    (a message's text a few words at a time), then the closing event with the whole
    response."""
    number = itertools.count()

    def event(kind: str, **fields: Any) -> Json:
        return {"type": kind, "sequence_number": next(number), **fields}

    yield event(
        "response.created",
        response={**result, "status": "in_progress", "output": [], "usage": None},
    )
    for index, item in enumerate(o for o in result.get("output") or () if isinstance(o, dict)):
        if item.get("type") != "message":
            yield event("response.output_item.added", output_index=index, item=item)
            yield event("response.output_item.done", output_index=index, item=item)
            continue
        item_id = item.get("id", "")
        opened = {**item, "status": "in_progress", "content": []}
        yield event("response.output_item.added", output_index=index, item=opened)
        for at, part in enumerate(p for p in item.get("content") or () if isinstance(p, dict)):
            where = {"item_id": item_id, "output_index": index, "content_index": at}
            text = str(part.get("text") or "")
            yield event("response.content_part.added", **where, part={**part, "text": ""})
            for piece in replay_pieces(text):
                yield event("response.output_text.delta", **where, delta=piece)
            yield event("response.output_text.done", **where, text=text)
            yield event("response.content_part.done", **where, part=part)
        yield event("response.output_item.done", output_index=index, item=item)
    closing = "response.completed" if result.get("status") == "completed" else "response.incomplete"
    yield event(closing, response=result)
