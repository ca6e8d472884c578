"""The pipeline's neutral request, what the provider is sent, and the per-stage trace."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tokenomy.cache.keys import CacheKey
from tokenomy.errors import ConfigError
from tokenomy.monitor.recorder import CallDetails

M = TypeVar("M")

__all__ = [
    "ROUTE_KEY",
    "TRACE_KEY",
    "Request",
    "Sent",
    "StageRecord",
    "Trace",
    "call_details",
    "own_messages",
]

TRACE_KEY = "tokenomy_trace"
"""Response-metadata key (LangChain ``response_metadata``, LlamaIndex
``additional_kwargs``) under which every front door puts the per-stage trace."""
ROUTE_KEY = "tokenomy_route"
"""Response-metadata key of the routing decision (model, reason, success, attempts)."""


@dataclass(frozen=True)
class Request:
    """One model call, in the pipeline's neutral shape.

    Attributes:
        messages: OpenAI-style chat messages (empty for a completion ``prompt``).
        prompt: a completion prompt instead of messages.
        model: the model id the call goes to when nothing routes it (prices,
            token counts); None when unknown.
        llm: the identity of the model and its parameters, which partitions the
            cache (LangChain's ``llm_string``); secrets never belong here.
        tools: tool schemas sent with the call.
        max_tokens: the caller's cap on the answer, if set.
        scope: the tenant or user whose cache entries the call may see.
        session: the conversation's id (per-session window state).
        tags: attribution for the ledger (user, feature, …).
        require: capabilities the answering model needs (``"tools"``, ``"vision"``).
        price_factor: the share of the list price the call is billed if it is sent
            (0.5 for a request the gateway defers to a Batch API job): what a cache
            hit saves. Budgets still reserve the list price.
    """

    messages: tuple[Mapping[str, Any], ...] = ()
    prompt: str | None = None
    model: str | None = None
    llm: str = ""
    tools: tuple[Mapping[str, Any], ...] | None = None
    max_tokens: int | None = None
    scope: str | None = None
    session: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    require: frozenset[str] = frozenset()
    price_factor: float = 1.0

    def __post_init__(self) -> None:
        if (self.prompt is None) == (not self.messages):
            raise ConfigError(
                "a pipeline Request takes either messages=[...] (chat) or prompt='...' "
                f"(completion), exactly one; got {len(self.messages)} messages and "
                f"prompt={self.prompt!r}."
            )
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1 or None; got {self.max_tokens!r}.")
        if not 0.0 < self.price_factor <= 1.0:
            raise ConfigError(f"price_factor must be in (0, 1]; got {self.price_factor!r}.")

    @property
    def cache_prompt(self) -> str | Sequence[Mapping[str, Any]]:
        """What the cache keys on: the caller's own messages, or the prompt."""
        return self.prompt if self.prompt is not None else self.messages

    @property
    def labels(self) -> dict[str, str]:
        """Who and what the call is for, as a budget's limits read it: the tags, then
        ``model``, ``scope`` and ``session`` when set (a tag of the same name wins)."""
        out = {
            k: v
            for k, v in (("model", self.model), ("scope", self.scope), ("session", self.session))
            if v
        }
        return {**out, **{str(k): str(v) for k, v in self.tags.items()}}


@dataclass(frozen=True)
class Sent:
    """What the provider callable is asked to send.

    Attributes:
        request: the caller's request.
        messages: the messages after the context stage (the request's own when
            nothing changed).
        origins: for each sent message, the index of the request message it comes
            from (its content may be shortened), or None for a message the
            pipeline inserted (a summary of evicted turns).
        model: the routed model's name, or None for the front door's own model.
        max_tokens: the answer cap to send (the caller's, or a planned one).
        prompt: the completion prompt to send (compressed when it is long), or
            None for a chat request.
        trace: the call's trace so far (None outside a pipeline): a provider
            callable may read what the stages did and add records of its own (the
            gateway's cross-replica de-duplication adds a ``dedup`` record).
    """

    request: Request
    messages: tuple[Mapping[str, Any], ...]
    origins: tuple[int | None, ...]
    model: str | None = None
    max_tokens: int | None = None
    prompt: str | None = None
    trace: Trace | None = field(default=None, compare=False, repr=False)

    def own(
        self,
        originals: Sequence[M],
        *,
        shorten: Callable[[M, str], M],
        insert: Callable[[str, str], M],
    ) -> list[M]:
        """The front door's own message objects for what is sent (see :func:`own_messages`)."""
        if not self.changed:
            return list(originals)
        return own_messages(
            originals,
            self.request.messages,
            self.messages,
            self.origins,
            shorten=shorten,
            insert=insert,
        )

    @property
    def planned_max_tokens(self) -> int | None:
        """The answer cap to send in place of the caller's, when the pipeline planned
        one that differs; None: send the caller's parameters as they are."""
        if self.max_tokens is not None and self.max_tokens != self.request.max_tokens:
            return self.max_tokens
        return None

    def params(self, kwargs: Mapping[str, Any], name: str = "max_tokens") -> dict[str, Any]:
        """The caller's call parameters ``kwargs`` with the planned answer cap under
        ``name`` (a copy; the same parameters when nothing was planned)."""
        planned = self.planned_max_tokens
        return {**kwargs, name: planned} if planned is not None else dict(kwargs)

    @property
    def changed(self) -> bool:
        """Whether the messages (or the prompt) differ from the caller's."""
        return self.messages != self.request.messages or self.prompt != self.request.prompt


def own_messages(
    originals: Sequence[M],
    dicts: Sequence[Mapping[str, Any]],
    chosen: Sequence[Mapping[str, Any]],
    origins: Sequence[int | None],
    *,
    shorten: Callable[[M, str], M],
    insert: Callable[[str, str], M],
) -> list[M]:
    """``originals`` (whose OpenAI form is ``dicts``) as the context stage chose them
    (``chosen``, from ``origins``): an unchanged message is the caller's own object, a
    shortened one ``shorten(original, text)``, one the stage inserted
    ``insert(role, text)`` (a summary: "system"; a continuation: "assistant", then "user").

    Example:
        >>> own_messages(["a", "b"], [{"content": "A"}, {"content": "B"}],
        ...              [{"role": "system", "content": "S"}, {"content": "b."}], [None, 1],
        ...              shorten=lambda m, t: m + "!", insert=lambda role, t: role)
        ['system', 'b!']
    """
    out: list[M] = []
    for origin, message in zip(origins, chosen, strict=True):
        content = message.get("content")
        if origin is None:
            out.append(insert(str(message.get("role") or "system"), str(content)))
        elif content == dicts[origin].get("content"):
            out.append(originals[origin])
        else:
            out.append(shorten(originals[origin], str(content)))
    return out


@dataclass(frozen=True, slots=True)
class StageRecord:
    """What one stage did for one call.

    Attributes:
        stage: ``budget``, ``cache``, ``context``, ``route``, ``output``, ``call``
            or ``settle``.
        outcome: e.g. ``hit``, ``miss``, ``shared``, ``applied``, ``skipped``
            (the stage failed and was bypassed), ``reserved``, ``charged``.
        detail: one line: the reason, the model, the error.
        saved_tokens: tokens the stage saved on this call.
        saved_usd: dollars the stage saved, when the price is known.
    """

    stage: str
    outcome: str
    detail: str = ""
    saved_tokens: int = 0
    saved_usd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage, "outcome": self.outcome}
        if self.detail:
            out["detail"] = self.detail
        if self.saved_tokens:
            out["saved_tokens"] = self.saved_tokens
        if self.saved_usd:
            out["saved_usd"] = round(self.saved_usd, 8)
        return out


class Trace:
    """The records of one call, in stage order; safe to add to from several threads."""

    def __init__(self) -> None:
        self._records: list[StageRecord] = []
        self._lock = threading.Lock()
        self.route: dict[str, Any] | None = None
        """The routing decision (model, reason, success, attempts), when routed."""
        self.output: dict[str, Any] | None = None
        """What the output stage did: ``planned`` cap, ``stopped_by``, ``saved_tokens``,
        ``kept_chars`` (the usable prefix of a stopped stream), ``continued`` parts,
        ``truncated``; None when it did nothing."""
        self._seconds: dict[str, float] = {}
        self.cache_key: CacheKey | None = None
        """The call's cache key, computed once: the lookup, the single-flight key, a new
        leader's re-check and the store share it."""

    def timed(self, stage: str, seconds: float) -> None:
        """Add ``seconds`` to the time ``stage`` took on this call."""
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds

    @property
    def stage_ms(self) -> dict[str, float]:
        """Milliseconds each stage took on this call (the provider call excluded)."""
        with self._lock:
            return {k: round(v * 1000, 3) for k, v in self._seconds.items()}

    def add(self, stage: str, outcome: str, detail: str = "", **saved: Any) -> None:
        with self._lock:
            self._records.append(StageRecord(stage, outcome, detail, **saved))

    @property
    def records(self) -> tuple[StageRecord, ...]:
        with self._lock:
            return tuple(self._records)

    def outcome(self, stage: str) -> str | None:
        """The last outcome recorded for ``stage``, or None."""
        return next((r.outcome for r in reversed(self.records) if r.stage == stage), None)

    @property
    def skipped(self) -> tuple[str, ...]:
        """The stages that failed and were bypassed on this call."""
        return tuple(r.stage for r in self.records if r.outcome == "skipped")

    def metadata(self) -> dict[str, Any]:
        """What a front door adds to its response's metadata: the trace under
        :data:`TRACE_KEY`, and the routing decision under :data:`ROUTE_KEY` when routed."""
        extra: dict[str, Any] = {TRACE_KEY: self.as_dict()}
        if self.route is not None:
            extra[ROUTE_KEY] = dict(self.route)
        return extra

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"stages": [...], "saved_tokens": n, "saved_usd": x,
        "stage_ms": {stage: ms}}``."""
        records = self.records
        out: dict[str, Any] = {
            "stages": [r.as_dict() for r in records],
            "saved_tokens": sum(r.saved_tokens for r in records),
            "saved_usd": round(sum(r.saved_usd for r in records), 8),
        }
        timings = self.stage_ms
        if timings:
            out["stage_ms"] = timings
        if self.output is not None:
            out["output"] = dict(self.output)
        return out

    def __repr__(self) -> str:
        return f"Trace({', '.join(f'{r.stage}:{r.outcome}' for r in self.records)})"


def call_details(
    request: Request,
    trace: Trace,
    model: str | None,
    sent: Sent | None = None,
    completion: str | None = None,
) -> CallDetails:
    """What a recorder's observers (telemetry) read beyond the record: the request's
    shape, the per-stage trace (with stage times) and the routing decision; the text
    only for observers that opt in to exporting it."""
    return {
        "operation": "chat" if request.messages else "text_completion",
        "request_model": model or request.model,
        "max_tokens": sent.max_tokens if sent is not None else request.max_tokens,
        "trace": trace.as_dict(),
        "route": dict(trace.route) if trace.route is not None else None,
        "prompt": (sent.messages or sent.prompt) if sent is not None else request.cache_prompt,
        "completion": completion,
    }
