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

``model`` and ``messages`` (or a text ``prompt``) are required; everything else is
optional. ``usage`` may be in any shape :func:`tokenomy.tokens.parse_usage` reads.
A line that is not valid JSON or lacks a required field is reported with its
line number and skipped; the rest of the file is audited.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, cast

from tokenomy.errors import WorkloadError
from tokenomy.tokens.usage import TokenUsage, parse_usage

__all__ = ["LineError", "Workload", "WorkloadCall", "load_workload", "parse_call"]


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
    """The calls read from a workload file, and the lines that were skipped."""

    path: str
    calls: tuple[WorkloadCall, ...]
    errors: tuple[LineError, ...]


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
        return float(value / 1000 if value > 1e11 else value)  # epoch ms or s
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        t = dt.datetime.fromisoformat(text)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.timestamp()
    raise ValueError(f"timestamp must be ISO-8601 or epoch seconds, got {value!r}")


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
    if messages is None and prompt is None:
        raise ValueError("missing 'messages' (a list of chat messages) or 'prompt'")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of chat messages")
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
                raise ValueError(f"message {i} must be an object with a 'role' string")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("'prompt' must be a string")
    text, finish, resp_usage = _response_text(obj.get("response"))
    raw_usage = obj.get("usage", resp_usage)
    usage = parse_usage(raw_usage) if raw_usage is not None else None
    if raw_usage is not None and usage is None:
        raise ValueError("'usage' has no token counts (prompt_tokens/input_tokens…)")
    max_tokens = request.get("max_tokens", request.get("max_completion_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise ValueError("'max_tokens' must be an integer")
    tags = obj.get("tags") or request.get("metadata") or {}
    if not isinstance(tags, Mapping):
        raise ValueError("'tags' must be an object of strings")
    tools = request.get("tools")
    latency = obj.get("latency_ms")
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
        latency_s=float(latency) / 1000 if isinstance(latency, int | float) else None,
        finish_reason=finish or obj.get("finish_reason"),
    )


def iter_lines(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) pairs; ``progress`` gets bytes read of the file on disk."""
    with path.open("rb") as raw:
        stream: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if path.suffix == ".gz" else raw
        )
        last = 0
        for number, line in enumerate(stream, start=1):
            if progress is not None:
                pos = raw.tell()
                if pos != last:
                    progress(pos - last)
                    last = pos
            yield number, line


def load_workload(path: str | Path, *, progress: Callable[[int], None] | None = None) -> Workload:
    """Read a workload file (``.jsonl`` or ``.jsonl.gz``).

    Args:
        path: the file.
        progress: called with the number of bytes read since the last call.

    Raises:
        WorkloadError: if the file cannot be read or holds no valid call.
    """
    p = Path(path)
    if not p.is_file():
        raise WorkloadError(
            f"Workload file {str(p)!r} does not exist. Pass a JSON Lines file of LLM calls "
            "(see `tokenomy audit --help`), or no argument to audit the bundled sample."
        )
    calls: list[WorkloadCall] = []
    errors: list[LineError] = []
    try:
        for number, raw in iter_lines(p, progress):
            text = raw.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                errors.append(
                    LineError(number, f"not valid JSON ({exc.__class__.__name__}: {exc})")
                )
                continue
            try:
                calls.append(parse_call(obj, number))
            except (ValueError, TypeError) as exc:
                errors.append(LineError(number, str(exc)))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise WorkloadError(f"Cannot read workload {str(p)!r}: {exc}") from exc
    if not calls:
        detail = f"; first problem: {errors[0]}" if errors else " (the file is empty)"
        raise WorkloadError(f"Workload {str(p)!r} has no valid call{detail}.")
    return Workload(str(p), tuple(calls), tuple(errors))
