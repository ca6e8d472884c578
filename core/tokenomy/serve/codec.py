"""OpenAI's response JSON and SSE chunks as the pipeline's result and chunk types.

One codec serves one request, and leaves what the handler needs in its
:class:`CallState`: the trace (for the ``x-tokenomy-trace`` header), how a cached
answer was served, and whether the upstream call was shared with another request.
A streamed answer is merged into the ``chat.completion`` it adds up to (content,
tool-call fragments by index, refusal, log-probabilities, finish reason, usage), and
a stored answer replays as chunks a client cannot tell from the upstream's.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tokenomy.cache import Answer
from tokenomy.pipeline import Sent, Trace
from tokenomy.pipeline.codecs import replay_pieces
from tokenomy.tokens.usage import TokenUsage

__all__ = [
    "CallState",
    "ChatCodec",
    "CompletionCodec",
    "EmbeddingCodec",
    "chat_chunks",
    "merge_chat",
    "merge_completion",
    "usage_of",
]

Json = dict[str, Any]
Kind = Literal["chat", "completion"]
_PIECE_CHARS = 24


@dataclass
class CallState:
    """What one request's handler learns while the pipeline runs it.

    Attributes:
        want_trace: the caller asked for the ``tokenomy`` field.
        trace: the pipeline's trace (set when the stages have run).
        served: how a stored answer was served (``exact_cache``, ``semantic_cache``,
            ``single_flight``), or None.
        shared: the upstream call was shared: ``in_flight`` (another request's call,
            here or on another replica) or ``window`` (an identical call answered
            within the de-duplication window); None when this request made it.
        shared_usage: what the shared call cost its maker (recorded as saved).
        price_factor: the share of the list price the upstream billed (a Batch API
            job's discount), charged to the budget and the ledger.
    """

    want_trace: bool = False
    trace: Trace | None = None
    served: str | None = None
    shared: str | None = None
    shared_usage: TokenUsage | None = None
    price_factor: float = 1.0


def usage_of(result: Json) -> TokenUsage | None:
    """The provider-reported usage of an OpenAI response, if any."""
    usage = result.get("usage")
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details") or {}
    out_details = usage.get("completion_tokens_details") or {}
    return TokenUsage(
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
    )


def trace_dict(trace: Trace) -> Json:
    out = trace.as_dict()
    if trace.route is not None:
        out["route"] = dict(trace.route)
    return out


class _Codec:
    """What chat and completion codecs share."""

    kind: Kind = "chat"

    def __init__(self, state: CallState, price_names: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.price_names = dict(price_names or {})
        """Public model name -> price-table name, for a routed call's answer."""
        self._head: Json | None = None

    # -- what differs between chat and completions -------------------------------------

    def _text(self, choice: Json) -> str:
        raise NotImplementedError

    def merge(self, chunks: Sequence[Json]) -> Json:
        raise NotImplementedError

    def replay(self, result: Json) -> Iterator[Json]:
        raise NotImplementedError

    # -- the Codec protocol --------------------------------------------------------

    def answer(self, result: Json, sent: Sent) -> Answer:
        choices = [c for c in result.get("choices") or () if isinstance(c, dict)]
        text = "".join(self._text(c) for c in choices)
        reasons = [c.get("finish_reason") for c in choices if c.get("finish_reason")]
        finish = "length" if "length" in reasons else (reasons[0] if reasons else None)
        return self._answer(result, sent, text, finish, usage_of(result))

    def _answer(
        self,
        result: Json,
        sent: Sent,
        text: str,
        finish: str | None,
        usage: TokenUsage | None,
    ) -> Answer:
        """What to store and charge for ``result``: nothing charged when another request
        made the upstream call, the Batch API's price when it went through one."""
        routed = self.price_names.get(sent.model, sent.model) if sent.model else None
        model = routed or sent.request.model or result.get("model")
        stored = {k: v for k, v in result.items() if k != "tokenomy"}
        if self.state.shared is not None:
            # another request paid for this call: charge nothing, store nothing twice
            self.state.shared_usage = usage
            return Answer(
                payload=json.dumps(stored),
                text=text,
                model=model,
                usage=TokenUsage(),
                finish_reason=finish,
                cacheable=False,
            )
        return Answer(
            payload=json.dumps(stored),
            text=text,
            model=model,
            usage=usage,
            finish_reason=finish,
            price_factor=self.state.price_factor,
        )

    def rebuild(self, payload: str, served: str) -> Json:
        result = json.loads(payload)
        if not isinstance(result, dict) or not isinstance(result.get("choices"), list):
            raise ValueError("a stored gateway answer must be an OpenAI response object")
        self.state.served = served
        prefix = "chatcmpl" if self.kind == "chat" else "cmpl"
        return {**result, "id": f"{prefix}-tokenomy-{uuid.uuid4().hex[:24]}", "created": _now()}

    def annotate(self, result: Json, trace: Trace) -> Json:
        self.state.trace = trace
        if self.state.want_trace:
            return {**result, "tokenomy": trace_dict(trace)}
        return result

    def last_chunk(self, trace: Trace) -> Json | None:
        self.state.trace = trace
        return self.trace_chunk(trace) if self.state.want_trace else None

    def trace_chunk(self, trace: Trace) -> Json:
        """A closing chunk with no choices that carries the trace."""
        head = self._head or {}
        obj = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        return {
            "id": head.get("id", ""),
            "object": obj,
            "created": head.get("created", _now()),
            "model": head.get("model", ""),
            "choices": [],
            "tokenomy": trace_dict(trace),
        }

    def _remember(self, chunks: Sequence[Json]) -> Json:
        head = next((c for c in chunks if c.get("id")), chunks[0] if chunks else {})
        self._head = head
        return head


class ChatCodec(_Codec):
    """``chat.completion`` results and ``chat.completion.chunk`` chunks."""

    kind: Kind = "chat"

    def _text(self, choice: Json) -> str:
        message = choice.get("message") or {}
        text = str(message.get("content") or "") + str(message.get("refusal") or "")
        calls = message.get("tool_calls")
        return text + (json.dumps(calls, sort_keys=True) if calls else "")

    def merge(self, chunks: Sequence[Json]) -> Json:
        self._remember(chunks)
        return merge_chat(chunks)

    def replay(self, result: Json) -> Iterator[Json]:
        self._head = result
        return chat_chunks(result)


class CompletionCodec(_Codec):
    """``text_completion`` results and their chunks (the legacy completions API)."""

    kind: Kind = "completion"

    def _text(self, choice: Json) -> str:
        return str(choice.get("text") or "")

    def merge(self, chunks: Sequence[Json]) -> Json:
        self._remember(chunks)
        return merge_completion(chunks)

    def replay(self, result: Json) -> Iterator[Json]:
        self._head = result
        return completion_chunks(result)


class EmbeddingCodec(_Codec):
    """Embedding responses (never streamed): stored whole, keyed by the whole request."""

    def _text(self, choice: Json) -> str:
        return ""

    def answer(self, result: Json, sent: Sent) -> Answer:
        usage = result.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or 0) if isinstance(usage, dict) else 0
        return Answer(
            payload=json.dumps(result),
            text="embedding",  # never empty, so it is cacheable
            model=sent.request.model,
            usage=TokenUsage(tokens, 0),
        )

    def rebuild(self, payload: str, served: str) -> Json:
        result = json.loads(payload)
        if not isinstance(result, dict) or not isinstance(result.get("data"), list):
            raise ValueError("a stored embedding answer must be an OpenAI list object")
        self.state.served = served
        return result

    def merge(self, chunks: Sequence[Json]) -> Json:
        raise NotImplementedError("embeddings are never streamed")

    def replay(self, result: Json) -> Iterator[Json]:
        raise NotImplementedError("embeddings are never streamed")


# -- merging chunks ----------------------------------------------------------------------


def _header(chunks: Sequence[Json], obj: str) -> Json:
    head = next((c for c in chunks if c.get("id")), chunks[0] if chunks else {})
    out: Json = {
        "id": head.get("id", ""),
        "object": obj,
        "created": head.get("created", _now()),
        "model": head.get("model", ""),
    }
    if head.get("system_fingerprint"):
        out["system_fingerprint"] = head["system_fingerprint"]
    return out


def _usage(chunks: Sequence[Json]) -> Any:
    return next((c["usage"] for c in reversed(chunks) if c.get("usage")), None)


def merge_chat(chunks: Sequence[Json]) -> Json:
    """The ``chat.completion`` a stream of ``chat.completion.chunk`` adds up to.

    Example:
        >>> def chunk(delta, finish=None):
        ...     return {"id": "c1", "model": "m",
        ...             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        >>> merged = merge_chat([chunk({"role": "assistant", "content": "Hel"}),
        ...                      chunk({"content": "lo"}, "stop")])
        >>> merged["choices"][0]["message"], merged["choices"][0]["finish_reason"]
        ({'role': 'assistant', 'content': 'Hello'}, 'stop')
    """
    choices: dict[int, Json] = {}
    for chunk in chunks:
        for ch in chunk.get("choices") or ():
            index = int(ch.get("index") or 0)
            acc = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": None},
                    "logprobs": None,
                    "finish_reason": None,
                },
            )
            _add_delta(acc["message"], ch.get("delta") or {})
            if ch.get("finish_reason"):
                acc["finish_reason"] = ch["finish_reason"]
            _add_logprobs(acc, ch.get("logprobs"))
    out = _header(chunks, "chat.completion")
    out["choices"] = [choices[i] for i in sorted(choices)]
    usage = _usage(chunks)
    if usage is not None:
        out["usage"] = usage
    return out


def _add_delta(message: Json, delta: Json) -> None:
    if delta.get("role"):
        message["role"] = delta["role"]
    if delta.get("content") is not None:
        message["content"] = (message.get("content") or "") + str(delta["content"])
    if delta.get("refusal"):
        message["refusal"] = (message.get("refusal") or "") + str(delta["refusal"])
    for call in delta.get("tool_calls") or ():
        calls = message.setdefault("tool_calls", [])
        index = int(call.get("index", len(calls)))
        while len(calls) <= index:
            calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        acc = calls[index]
        if call.get("id"):
            acc["id"] = call["id"]
        if call.get("type"):
            acc["type"] = call["type"]
        fn = call.get("function") or {}
        acc["function"]["name"] += fn.get("name") or ""
        acc["function"]["arguments"] += fn.get("arguments") or ""


def _add_logprobs(acc: Json, logprobs: Any) -> None:
    if not isinstance(logprobs, dict):
        return
    merged = acc["logprobs"] = acc["logprobs"] or {}
    for part in ("content", "refusal"):
        if isinstance(logprobs.get(part), list):
            merged[part] = (merged.get(part) or []) + logprobs[part]


def merge_completion(chunks: Sequence[Json]) -> Json:
    """The ``text_completion`` a stream of completion chunks adds up to."""
    choices: dict[int, Json] = {}
    for chunk in chunks:
        for ch in chunk.get("choices") or ():
            index = int(ch.get("index") or 0)
            acc = choices.setdefault(
                index, {"index": index, "text": "", "logprobs": None, "finish_reason": None}
            )
            acc["text"] += str(ch.get("text") or "")
            if ch.get("finish_reason"):
                acc["finish_reason"] = ch["finish_reason"]
    out = _header(chunks, "text_completion")
    out["choices"] = [choices[i] for i in sorted(choices)]
    usage = _usage(chunks)
    if usage is not None:
        out["usage"] = usage
    return out


# -- replaying a result as chunks ---------------------------------------------------------


def chat_chunks(result: Json) -> Iterator[Json]:
    """A ``chat.completion`` as the chunks a streaming upstream would have sent: the
    role, the content a few words at a time, each tool call whole, the finish reason,
    then a usage chunk with no choices (sent only to clients that asked for usage)."""
    head = _header([result], "chat.completion.chunk")
    for choice in result.get("choices") or ():
        index = int(choice.get("index") or 0)
        message = choice.get("message") or {}

        def chunk(delta: Json, finish: Any = None, index: int = index) -> Json:
            return {
                **head,
                "choices": [
                    {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        content = message.get("content")
        start = "" if isinstance(content, str) else None  # a tool call's content stays null
        yield chunk({"role": message.get("role") or "assistant", "content": start})
        for piece in replay_pieces(content if isinstance(content, str) else "", _PIECE_CHARS):
            yield chunk({"content": piece})
        if message.get("refusal"):
            yield chunk({"refusal": message["refusal"]})
        for i, call in enumerate(message.get("tool_calls") or ()):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, choice.get("finish_reason") or "stop")
    if result.get("usage"):
        yield {**head, "choices": [], "usage": result["usage"]}


def completion_chunks(result: Json) -> Iterator[Json]:
    """A ``text_completion`` as streamed completion chunks."""
    head = _header([result], "text_completion")
    for choice in result.get("choices") or ():
        index = int(choice.get("index") or 0)
        for piece in replay_pieces(str(choice.get("text") or ""), _PIECE_CHARS):
            yield {
                **head,
                "choices": [
                    {"index": index, "text": piece, "logprobs": None, "finish_reason": None}
                ],
            }
        yield {
            **head,
            "choices": [
                {
                    "index": index,
                    "text": "",
                    "logprobs": None,
                    "finish_reason": choice.get("finish_reason") or "stop",
                }
            ],
        }
    if result.get("usage"):
        yield {**head, "choices": [], "usage": result["usage"]}


def _now() -> int:
    return int(time.time())
