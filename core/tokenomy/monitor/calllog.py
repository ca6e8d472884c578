"""A call log in the audit's JSON Lines format, written as calls are recorded.

``tokenomy audit calls.jsonl`` reads it as it reads any workload, so tracked usage
becomes the same report. Each line holds the record's id, time, model, usage (as
OpenAI reports it), tags, latency and whether a cache served it. The prompt and
answer texts are written only with ``include_text=True`` (the audit's cache,
compression and few-shot columns need them); every text first goes through
``redact`` (mask e-mails, account numbers…). Without text a line carries
``"prompt": ""`` and ``"redacted": true``: the report's spend tables are exact, and
the savings columns that need text have nothing to estimate.

A write that fails (a full disk) is logged once and counted; it never fails the
call being recorded. Lines are appended one ``write`` each, so several processes
may share one file.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokenomy._failures import FailureLog
from tokenomy.errors import ConfigError
from tokenomy.monitor.records import UsageRecord

__all__ = ["CallLog"]

log = logging.getLogger(__name__)


class CallLog:
    """Appends each recorded call to ``path`` as one audit-format JSON line.

    Args:
        path: the ``.jsonl`` file (created if missing, appended to otherwise).
        include_text: also write the prompt and the answer (default False).
        redact: applied to every text written (default None: as they are).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "calls.jsonl"
        >>> calls = CallLog(path, include_text=True, redact=lambda t: t.replace("42", "##"))
        >>> record = UsageRecord(model="gpt-4o", input_tokens=12, output_tokens=3)
        >>> calls.write(record, prompt=[{"role": "user", "content": "Order 42?"}], output_text="Shipped.")
        >>> line = json.loads(path.read_text())
        >>> line["messages"][0]["content"], line["response"], line["usage"]["prompt_tokens"]
        ('Order ##?', 'Shipped.', 12)
    """  # noqa: E501

    def __init__(
        self,
        path: str | Path,
        *,
        include_text: bool = False,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        if redact is not None and not callable(redact):
            raise ConfigError(f"redact must be a function str -> str; got {redact!r}.")
        self.path = Path(path)
        self.include_text = include_text
        self.redact = redact
        self._lock = threading.Lock()
        self._failures = FailureLog(log, "writing the call log", "the line is dropped")

    @property
    def failures(self) -> int:
        """Lines that could not be written."""
        return self._failures.count

    def write(
        self,
        record: UsageRecord,
        *,
        prompt: str | Sequence[Mapping[str, Any]] | None = None,
        output_text: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Append one line for ``record`` (never raises on I/O errors)."""
        try:
            line = json.dumps(self._line(record, prompt, output_text, tools), default=str)
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except (OSError, TypeError, ValueError) as exc:
            self._failures.record(exc)

    def _line(
        self,
        record: UsageRecord,
        prompt: str | Sequence[Mapping[str, Any]] | None,
        output_text: str | None,
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": record.id,
            "timestamp": record.timestamp,
            "model": record.model or "unattributed",
        }
        if self.include_text and prompt is not None:
            if isinstance(prompt, str):
                out["prompt"] = self._clean(prompt)
            else:
                out["messages"] = [self._message(m) for m in prompt]
            out["response"] = self._clean(output_text) if output_text is not None else None
            if tools:
                out["tools"] = list(tools)
        else:
            out["prompt"] = ""
            out["redacted"] = True
        out["usage"] = {
            "prompt_tokens": record.input_tokens,
            "completion_tokens": record.output_tokens,
            "prompt_tokens_details": {"cached_tokens": record.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": record.reasoning_tokens},
        }
        out["usage_estimated"] = not record.exact
        out["tags"] = dict(record.tags)
        if record.latency_s is not None:
            out["latency_ms"] = round(record.latency_s * 1000, 3)
        if record.cache_hit:
            out["cache_hit"] = True
            out["saved_tokens"] = dict(record.saved_tokens)
        out["status"] = record.status
        out["source"] = record.source
        return out

    def _clean(self, text: str) -> str:
        return self.redact(text) if self.redact is not None else text

    def _message(self, message: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(message)
        content = out.get("content")
        if isinstance(content, str):
            out["content"] = self._clean(content)
        elif isinstance(content, list):  # content parts: redact the text ones
            out["content"] = [
                {**p, "text": self._clean(p["text"])}
                if isinstance(p, Mapping) and isinstance(p.get("text"), str)
                else p
                for p in content
            ]
        return out
