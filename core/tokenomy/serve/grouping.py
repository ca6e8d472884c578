"""Shared-context grouping: requests that carry the same long context, answered by one call.

Requests of one tenant to one model that arrive within ``max_wait_s`` of each other
and carry the same context (the same messages before the question, e.g. a system
prompt with a document; with ``by="prefix"`` also the same leading part of the
question's message, up to its last blank line) are sent as one call: the context
once, then the questions numbered ``[1] ... [n]`` and an instruction to answer each
on its own numbered line. The answer is split back by those numbers; each request
gets its own answer and a share of the call's usage. When the split fails (a number
missing, repeated or out of order, an empty answer, an answer that reads as a
question, an answer cut by the length limit) or the grouped call fails, every request
is sent on its own, as if grouping were off: grouping may cost time, never an answer.

Only plain chat requests are grouped: not streamed, no tools, no ``response_format``,
one choice, the question a string. Off by default (``grouping.enabled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tokenomy.errors import ConfigError

if TYPE_CHECKING:
    from tokenomy.serve.upstream import Upstream

__all__ = ["GroupStats", "Grouper", "merge_questions", "split_answers"]

log = logging.getLogger(__name__)

Json = dict[str, Any]
_CAPS = ("max_tokens", "max_completion_tokens")
_NOT_GROUPED = ("tools", "functions", "response_format", "logprobs", "stream", "tool_choice")
_MARK = re.compile(r"^[ \t]*\[(\d{1,4})\][ \t]*:?[ \t]*", re.MULTILINE)
_ECHO = re.compile(r"^\W*question\s*\d*\s*:", re.IGNORECASE)
_ASKS = re.compile(  # a question's start: "when did", "how long", "who is"...
    r"^(who|whom|whose|what|when|where|which|why|how)\s+(is|are|was|were|did|does|do|will"
    r"|would|can|could|has|have|had|long|many|much|old|far|often)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^answer\s*\d*\s*:\s*", re.IGNORECASE)
INSTRUCTION = (
    "Answer each of the {n} questions above in a few words, using the context. Reply "
    "with {n} lines: [1] then the answer to question 1, [2] then the answer to question "
    "2, and so on. Do not repeat the questions."
)
"""What the grouped call asks, after the numbered questions (after them, a small model
answers them; before them, SmolLM2-135M copied them back: docs/gateway.md)."""


@dataclass
class GroupStats:
    """Counters of one process's grouping.

    Attributes:
        requests: requests that could be grouped (eligible, long enough context).
        calls: grouped upstream calls made (each for at least two requests).
        grouped: requests answered by a grouped call.
        split_failed: grouped calls that failed or whose answer could not be split
            (their requests were then sent on their own).
        prompt_chars_saved: characters of context not sent again.
    """

    requests: int = 0
    calls: int = 0
    grouped: int = 0
    split_failed: int = 0
    prompt_chars_saved: int = 0


@dataclass(frozen=True)
class Question:
    """One request, split into the context it shares and its own question."""

    body: Json
    context: list[Json]
    head: str
    text: str

    @property
    def context_chars(self) -> int:
        return sum(len(str(m.get("content", ""))) for m in self.context) + len(self.head)


@dataclass
class _Group:
    items: list[tuple[Question, asyncio.Future[tuple[Json | None, str]]]] = field(
        default_factory=list
    )
    timer: asyncio.TimerHandle | None = None
    upstream: Upstream | None = None
    path: str = "/chat/completions"


def question_of(body: Mapping[str, Any], by: Literal["messages", "prefix"]) -> Question | None:
    """``body`` split into context and question, or None when it cannot be grouped."""
    if any(body.get(k) for k in _NOT_GROUPED) or body.get("n", 1) not in (1, None):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "user":
        return None
    text = last.get("content")
    if not isinstance(text, str) or not text.strip():
        return None
    context = [dict(m) for m in messages[:-1] if isinstance(m, Mapping)]
    if len(context) != len(messages) - 1:
        return None
    head = ""
    if by == "prefix" and "\n\n" in text.strip():
        head, text = text.rstrip().rsplit("\n\n", 1)
    return Question(dict(body), context, head, text.strip())


def merge_questions(questions: list[Question]) -> Json:
    """The one call for ``questions`` (which share their context): the first body, the
    context once, the questions numbered; the caps added up (none if any has none)."""
    first = questions[0]
    body = {k: v for k, v in first.body.items() if k not in _CAPS and k != "user"}
    numbered = "\n".join(f"[{i}] {q.text}" for i, q in enumerate(questions, 1))
    ask = numbered + "\n\n" + INSTRUCTION.format(n=len(questions))
    content = f"{first.head}\n\n{ask}" if first.head else ask
    body["messages"] = [*copy.deepcopy(first.context), {"role": "user", "content": content}]
    for cap in _CAPS:
        caps = [q.body.get(cap) for q in questions]
        if all(isinstance(c, int) for c in caps):
            body[cap] = sum(caps)
    return body


def split_answers(text: str, n: int, questions: Sequence[str] = ()) -> list[str] | None:
    """The ``n`` answers of a grouped call's ``text`` by their ``[i]`` numbers, or None
    when a number is missing, repeated, out of order, or an answer is empty or looks
    like a question (one of ``questions``, or one that starts with ``Question:``,
    ``when did``, ``how many``...: small models copy or rephrase
    the numbered questions instead of answering them). A leading ``Answer:`` is dropped.

    Example:
        >>> split_answers("[1] Paris.\\n[2] Rome.", 2)
        ['Paris.', 'Rome.']
        >>> split_answers("[1] Paris.", 2) is None
        True
        >>> split_answers("[1] Paris.\\n[2] Question: capital of Italy?", 2) is None
        True
    """
    marks = list(_MARK.finditer(text))
    if [int(m.group(1)) for m in marks] != list(range(1, n + 1)):
        return None
    answers = [
        _LABEL.sub("", text[m.end() : marks[i + 1].start() if i + 1 < n else len(text)].strip())
        for i, m in enumerate(marks)
    ]
    asked = {_words(_ECHO.sub("", q)) for q in questions}
    if any(_asks(a) or _words(a) in asked for a in answers):
        return None
    return answers


def _asks(answer: str) -> bool:
    """Whether ``answer`` is empty or reads as a question rather than an answer."""
    return not answer or bool(_ECHO.match(answer) or _ASKS.match(answer))


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _shares(total: int, n: int) -> list[int]:
    base, extra = divmod(max(0, total), n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def split_response(response: Json, n: int, questions: Sequence[str] = ()) -> list[Json] | None:
    """One chat completion per question from the grouped call's ``response`` (usage
    split evenly, adding up to the call's), or None when it does not split (see
    :func:`split_answers`)."""
    choices = response.get("choices")
    if not isinstance(choices, list) or len(choices) != 1:
        return None
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content")
    if choice.get("finish_reason") != "stop" or not isinstance(text, str):
        return None
    answers = split_answers(text, n, questions)
    if answers is None:
        return None
    usage = response.get("usage") or {}
    prompt = _shares(int(usage.get("prompt_tokens") or 0), n)
    completion = _shares(int(usage.get("completion_tokens") or 0), n)
    out = []
    for i, answer in enumerate(answers):
        one = {k: v for k, v in response.items() if k not in ("choices", "usage")}
        one["id"] = f"{response.get('id', 'chatcmpl-grouped')}-{i + 1}"
        one["choices"] = [{**choice, "message": {**message, "content": answer}}]
        if usage:
            one["usage"] = {
                "prompt_tokens": prompt[i],
                "completion_tokens": completion[i],
                "total_tokens": prompt[i] + completion[i],
            }
        out.append(one)
    return out


class Grouper:
    """Groups requests that share a long context into one upstream call per group.

    Args:
        max_size: requests per grouped call (the seed's BATCH_SIZE; default 8).
        max_wait_s: a group is sent this long after its first request at the latest
            (BATCH_TIMEOUT_MS; default 0.05 s): what a grouped request may wait.
        min_context_chars: shorter contexts are not grouped (default 2000, about 500
            tokens: below it the saving is smaller than the instruction's cost).
        by: ``"messages"`` (the messages before the question are the context) or
            ``"prefix"`` (SIMILARITY_GROUPING: also the question message's leading
            part, up to its last blank line; for apps that send one user message
            with the document first).
    """

    def __init__(
        self,
        *,
        max_size: int = 8,
        max_wait_s: float = 0.05,
        min_context_chars: int = 2000,
        by: Literal["messages", "prefix"] = "messages",
    ) -> None:
        if max_size < 2 or max_wait_s < 0 or min_context_chars < 0:
            raise ConfigError(
                "grouping needs max_size >= 2, max_wait_ms >= 0 and min_context_chars >= 0; "
                f"got {max_size!r}, {max_wait_s!r}, {min_context_chars!r}."
            )
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.min_context_chars = min_context_chars
        self.by = by
        self.stats = GroupStats()
        self._groups: dict[str, _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned = False

    def eligible(self, body: Mapping[str, Any]) -> Question | None:
        """The request as a question to group, or None to send it as it is."""
        q = question_of(body, self.by)
        return q if q is not None and q.context_chars >= self.min_context_chars else None

    async def submit(
        self, upstream: Upstream, path: str, question: Question, scope: str
    ) -> tuple[Json | None, str]:
        """Wait for the group ``question`` joins: (its answer, what happened), or
        (None, why) when the request must be sent on its own."""
        self.stats.requests += 1
        key = _key(upstream.name, scope, question)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(upstream=upstream, path=path)
        future: asyncio.Future[tuple[Json | None, str]] = asyncio.get_running_loop().create_future()
        group.items.append((question, future))
        if len(group.items) >= self.max_size:
            self._send(key)
        elif group.timer is None:
            group.timer = asyncio.get_running_loop().call_later(self.max_wait_s, self._send, key)
        return await future

    async def aclose(self) -> None:
        for group in self._groups.values():
            if group.timer is not None:
                group.timer.cancel()
            for _, future in group.items:
                future.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _send(self, key: str) -> None:
        group = self._groups.pop(key, None)
        if group is None or not group.items:
            return
        if group.timer is not None:
            group.timer.cancel()
        if len(group.items) == 1:  # alone within the wait: sent as it is
            group.items[0][1].set_result((None, ""))
            return
        task = asyncio.get_running_loop().create_task(self._run(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, group: _Group) -> None:
        assert group.upstream is not None
        questions = [q for q, _ in group.items]
        n = len(questions)
        try:
            response = await group.upstream.post(group.path, merge_questions(questions))
            answers = split_response(response, n, [q.text for q in questions])
        except Exception as exc:
            answers, why = None, f"the grouped call failed ({type(exc).__name__})"
        else:
            why = "the grouped answer did not split into its numbered answers"
        self.stats.calls += 1
        if answers is None:
            self.stats.split_failed += 1
            log.log(  # once at warning level, then counted (tokenomy_grouping_split_failed_total)
                logging.DEBUG if self._warned else logging.WARNING,
                "tokenomy serve: %s; its %d requests are sent on their own (further such "
                "groups are counted in /metrics, not logged)",
                why,
                n,
            )
            self._warned = True
            for _, future in group.items:
                if not future.done():
                    future.set_result((None, why))
            return
        self.stats.grouped += n
        self.stats.prompt_chars_saved += (n - 1) * questions[0].context_chars
        chars = questions[0].context_chars
        note = f"one call answered {n} questions sharing a {chars}-character context"
        for (_, future), answer in zip(group.items, answers, strict=True):
            if not future.done():
                future.set_result((answer, note))


def _key(upstream: str, scope: str, q: Question) -> str:
    rest = {k: v for k, v in q.body.items() if k not in (*_CAPS, "messages", "user")}
    material = [upstream, scope, rest, q.context, q.head]
    raw = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
