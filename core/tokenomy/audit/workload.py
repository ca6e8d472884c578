"""Reading a workload: JSON Lines of LLM calls in OpenAI chat format.

One call per line, either flat::

    {"id": "c1", "timestamp": "2026-11-02T10:15:00Z", "model": "gpt-4o",
     "messages": [{"role": "user", "content": "…"}], "response": "…",
     "usage": {"prompt_tokens": 12, "completion_tokens": 40},
     "max_tokens": 512, "tags": {"user": "u1", "feature": "faq"}, "latency_ms": 830}

or as a logged request/response pair::

    {"request": {"model": …, "messages": […], "max_tokens": …},
     "response": {"choices": [{"message": {"content": "…"}}], "usage": {…}},
     "timestamp": …, "tags": {…}}

or a logged Responses API pair (``request.input`` and ``instructions``,
``response.output`` with ``usage.input_tokens``/``output_tokens``). ``model`` and
``messages`` (or a text ``prompt``, or ``input``) are required; everything else is
optional. ``usage`` may be in any shape :func:`tokenomy.tokens.parse_usage` reads.

No line can stop the audit. A line that fails anywhere (not JSON, nested too deep,
a 5,000-digit integer, a missing or mistyped field, a negative, non-finite or
implausible token count, a timestamp outside years 1970-9999) is skipped and
reported with its number and the reason; the rest of the file is audited. Lone
surrogates (``"\\ud800"``) are replaced by U+FFFD, so every kept line can be
printed and written. A gzip file that ends early or is corrupt part-way is audited
up to the break, and the break is reported (:attr:`Workload.truncated`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tokenomy.audit.lines import _TruncatedError, decode, iter_lines
from tokenomy.errors import WorkloadError
from tokenomy.text.messages import input_messages, output_text
from tokenomy.tokens.usage import TokenUsage, parse_usage

__all__ = [
    "MAX_TOKENS_PER_CALL",
    "LineError",
    "Workload",
    "WorkloadCall",
    "load_workload",
    "parse_call",
    "read_line",
]


@dataclass(frozen=True, slots=True)
class WorkloadCall:
    """One LLM call of a workload, normalized."""

    line: int
    id: str
    timestamp: float | None
    model: str
    messages: tuple[Mapping[str, Any], ...] | None
    prompt: str | None
    response: str | None
    usage: TokenUsage | None
    max_tokens: int | None = None
    tools: tuple[Mapping[str, Any], ...] | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    latency_s: float | None = None
    finish_reason: str | None = None

    @property
    def last_user_text(self) -> str:
        """Text of the last user message (or the prompt), for display."""
        if self.prompt is not None:
            return self.prompt
        for m in reversed(self.messages or ()):
            if m.get("role") == "user":
                return _text(m.get("content"))
        return ""


@dataclass(frozen=True, slots=True)
class LineError:
    """A workload line that could not be read."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Workload:
    """The calls read from a workload file, and the lines that were skipped.

    Attributes:
        truncated: why reading stopped before the end of the file (a truncated or
            corrupt gzip stream), or None when the whole file was read.
    """

    path: str
    calls: tuple[WorkloadCall, ...]
    errors: tuple[LineError, ...]
    truncated: str | None = None


MAX_TOKENS_PER_CALL = 10**10
"""A token count above this (ten billion) is refused as implausible."""
_MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z
_COUNT_KEY = re.compile(r"tokens?$|_count$|^(cache_read|reasoning|audio)$")


def _check_counts(raw: Any, where: str = "usage", depth: int = 0) -> None:
    """Raise ValueError for a token count that is negative, non-finite or implausible."""
    if not isinstance(raw, Mapping) or depth > 3:
        return
    for key, value in raw.items():
        name = f"{where}.{key}"
        if isinstance(value, Mapping):
            _check_counts(value, name, depth + 1)
        elif value is None or not _COUNT_KEY.search(str(key)):
            continue
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{name!r} must be a number, got {type(value).__name__}")
        else:
            number = _finite(value, name)
            if number < 0:
                raise ValueError(f"{name!r} is {number:g}: token counts cannot be negative")
            if number > MAX_TOKENS_PER_CALL:
                raise ValueError(f"{name!r} is {number:g}: more tokens than any call can use")


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name!r} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name!r} must be a finite number, got {str(value)[:40]}")
    return number


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content
        )
    return "" if content is None else str(content)


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be ISO-8601 or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = _finite(value, "timestamp")
        seconds = seconds / 1000 if seconds > 1e11 else seconds  # epoch ms or s
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        t = dt.datetime.fromisoformat(text)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        seconds = t.timestamp()
    else:
        raise ValueError(f"timestamp must be ISO-8601 or epoch seconds, got {value!r}"[:120])
    if not 0 <= seconds <= _MAX_EPOCH:
        raise ValueError(
            f"timestamp {str(value)[:40]} is outside 1970-9999 (epoch seconds or milliseconds)"
        )
    return seconds


def _response_text(resp: Any) -> tuple[str | None, str | None, Any]:
    """(text, finish_reason, usage) of a flat response string or an OpenAI response."""
    if resp is None or isinstance(resp, str):
        return resp, None, None
    if isinstance(resp, Mapping):
        choices = resp.get("choices")
        if isinstance(choices, list) and choices:
            first = choices[0] if isinstance(choices[0], Mapping) else {}
            msg = first.get("message") or {}
            text = _text(msg.get("content")) if isinstance(msg, Mapping) else None
            if text is None or text == "":
                text = first.get("text")
            return text, first.get("finish_reason"), resp.get("usage")
        if "content" in resp:
            return _text(resp.get("content")), resp.get("finish_reason"), resp.get("usage")
        if isinstance(resp.get("output"), list):  # a Responses API object
            cut = resp.get("status") == "incomplete"
            return output_text(resp["output"]), "length" if cut else None, resp.get("usage")
    raise ValueError("'response' must be a string or an OpenAI response object")


def parse_call(obj: Any, line: int) -> WorkloadCall:
    """Normalize one decoded workload line; raises ValueError naming the problem."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    inner = obj.get("request")
    request: Mapping[str, Any] = inner if isinstance(inner, Mapping) else obj
    model = request.get("model") or obj.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("missing 'model' (the model name, a non-empty string)")
    messages = request.get("messages")
    prompt = request.get("prompt")
    if messages is None and prompt is None and "input" in request:  # the Responses API
        messages = input_messages(request.get("input"), request.get("instructions"))
        if messages is None:
            raise ValueError("'input' must be a non-empty string or list of input items")
    if messages is None and prompt is None:
        raise ValueError("missing 'messages' (a list of chat messages), 'prompt' or 'input'")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of chat messages")
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
                raise ValueError(f"message {i} must be an object with a 'role' string")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("'prompt' must be a string")
    text, finish, resp_usage = _response_text(obj.get("response"))
    if text is not None and not isinstance(text, str):
        raise ValueError("the response text must be a string")
    if finish is not None and not isinstance(finish, str):
        raise ValueError("'finish_reason' must be a string")
    raw_usage = obj.get("usage", resp_usage)
    if raw_usage is not None and not isinstance(raw_usage, Mapping):
        raise ValueError("'usage' must be an object of token counts")
    _check_counts(raw_usage)
    usage = parse_usage(raw_usage) if raw_usage is not None else None
    if raw_usage is not None and usage is None:
        raise ValueError("'usage' has no token counts (prompt_tokens/input_tokens…)")
    max_tokens = request.get(
        "max_tokens", request.get("max_completion_tokens", request.get("max_output_tokens"))
    )
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise ValueError("'max_tokens' must be an integer")
    if max_tokens is not None and not 0 < max_tokens <= MAX_TOKENS_PER_CALL:
        raise ValueError(f"'max_tokens' is {max_tokens}: it must be between 1 and 10^10")
    tags = obj.get("tags") or request.get("metadata") or {}
    if not isinstance(tags, Mapping):
        raise ValueError("'tags' must be an object of strings")
    if any(isinstance(v, Mapping | list) for v in tags.values()):
        raise ValueError("'tags' values must be strings or numbers, not objects or lists")
    tools = request.get("tools")
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools)
    ):
        raise ValueError("'tools' must be a list of tool objects")
    latency = obj.get("latency_ms")
    is_number = isinstance(latency, int | float) and not isinstance(latency, bool)
    if is_number and not 0 <= _finite(latency, "latency_ms") <= 1e10:
        raise ValueError(f"'latency_ms' is {latency}: it must be >= 0")
    return WorkloadCall(
        line=line,
        id=str(obj.get("id") or f"line-{line}"),
        timestamp=_timestamp(obj.get("timestamp", request.get("created"))),
        model=model.strip(),
        messages=tuple(messages) if messages is not None else None,
        prompt=prompt,
        response=text,
        usage=usage,
        max_tokens=max_tokens,
        tools=tuple(tools) if isinstance(tools, list) and tools else None,
        tags=MappingProxyType({str(k): str(v) for k, v in tags.items() if v is not None}),
        latency_s=float(latency) / 1000
        if isinstance(latency, int | float) and not isinstance(latency, bool)
        else None,
        finish_reason=finish or obj.get("finish_reason"),
    )


def read_line(raw: bytes, number: int) -> WorkloadCall:
    """Decode and normalize one raw line; raises ValueError naming the problem."""
    return parse_call(decode(raw), number)


class _Interner:
    """Makes repeated messages, conversations, answers and tags one object each: a log
    repeats its system prompts, documents, canned answers and user/feature tags
    thousands of times, and a million calls would otherwise hold a million copies.
    Bounded: past ``limit`` distinct values of a kind it stops sharing new ones (still
    correct, just less frugal)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._messages: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        self._conversations: dict[tuple[int, ...], tuple[Mapping[str, Any], ...]] = {}
        self._texts: dict[str, str] = {}
        self._tags: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
        self._ints: dict[int, int] = {}

    def _message(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        content = message.get("content")
        if not isinstance(content, str) or len(message) > 3:
            return message
        key = (message.get("role"), content, message.get("name"))
        found = self._messages.get(key)
        if found is not None:
            return found
        if len(self._messages) < self.limit:
            self._messages[key] = message
        return message

    def _conversation(
        self, messages: tuple[Mapping[str, Any], ...]
    ) -> tuple[Mapping[str, Any], ...]:
        shared = tuple(self._message(m) for m in messages)
        # keyed by the shared messages' identities: each is held by the interner for
        # as long as the key is, so an id is never reused while it is a key
        if not all(self._holds(m) for m in shared):
            return shared
        key = tuple(map(id, shared))
        found = self._conversations.get(key)
        if found is not None:
            return found
        if len(self._conversations) < self.limit:
            self._conversations[key] = shared
        return shared

    def _holds(self, message: Mapping[str, Any]) -> bool:
        content = message.get("content")
        if not isinstance(content, str) or len(message) > 3:
            return False
        key = (message.get("role"), content, message.get("name"))
        return self._messages.get(key) is message

    def _text(self, text: str | None) -> str | None:
        if text is None:
            return None
        found = self._texts.get(text)
        if found is not None:
            return found
        if len(self._texts) < self.limit:
            self._texts[text] = text
        return text

    def _number(self, value: int | None) -> int | None:
        if value is None:
            return None
        return self._ints.setdefault(value, value) if len(self._ints) < self.limit else value

    def _tag_map(self, tags: Mapping[str, str]) -> Mapping[str, str]:
        if not tags:
            return _NO_TAGS
        key = tuple(tags.items())
        found = self._tags.get(key)
        if found is not None:
            return found
        if len(self._tags) < self.limit:
            self._tags[key] = tags
        return tags

    def call(self, call: WorkloadCall) -> WorkloadCall:
        messages = call.messages
        return WorkloadCall(
            call.line,
            call.id,
            call.timestamp,
            self._text(call.model) or call.model,
            None if messages is None else self._conversation(messages),
            self._text(call.prompt),
            self._text(call.response),
            call.usage,
            self._number(call.max_tokens),
            call.tools,
            self._tag_map(call.tags),
            call.latency_s,
            call.finish_reason,
        )


_NO_TAGS: Mapping[str, str] = MappingProxyType({})


def load_workload(path: str | Path, *, progress: Callable[[int], None] | None = None) -> Workload:
    """Read a workload file (``.jsonl`` or ``.jsonl.gz``).

    Every line that cannot be read, decoded or normalized is skipped and reported
    in :attr:`Workload.errors` with its number and reason; a gzip stream that breaks
    part-way is read up to the break (:attr:`Workload.truncated`).

    Args:
        path: the file.
        progress: called with the number of bytes read since the last call.

    Raises:
        WorkloadError: if the file cannot be opened or holds no valid call.
    """
    p = Path(path)
    if not p.is_file():
        raise WorkloadError(
            f"Workload file {str(p)!r} does not exist. Pass a JSON Lines file of LLM calls "
            "(see `tokenomy audit --help`), or no argument to audit the bundled sample."
        )
    calls: list[WorkloadCall] = []
    errors: list[LineError] = []
    truncated = None
    shared = _Interner()
    try:
        for number, raw in iter_lines(p, progress):
            if not raw.strip():
                continue
            try:
                calls.append(shared.call(read_line(raw.strip(), number)))
            except Exception as exc:  # the documented boundary: one line never stops the audit
                reason = str(exc) if isinstance(exc, ValueError | TypeError) else repr(exc)
                errors.append(LineError(number, reason[:300] or type(exc).__name__))
    except _TruncatedError as exc:
        truncated = str(exc)
        errors.append(LineError(exc.after + 1, truncated))
    except OSError as exc:
        raise WorkloadError(f"Cannot read workload {str(p)!r}: {exc}") from exc
    if not calls:
        detail = f"; first problem: {errors[0]}" if errors else " (the file is empty)"
        raise WorkloadError(f"Workload {str(p)!r} has no valid call{detail}.")
    return Workload(str(p), tuple(calls), tuple(errors), truncated)
