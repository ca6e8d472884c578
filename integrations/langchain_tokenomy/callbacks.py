"""Usage accounting for LangChain: a callback handler, and two ways to attach it
to every model call without touching the chain (``track_usage``, ``enable``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from typing_extensions import override

from langchain_tokenomy._convert import (
    model_from_run,
    tags_from_run,
    to_openai_messages,
    usage_from_result,
)
from langchain_tokenomy._pipeline import ROUTE_KEY
from tokenomy.monitor import BaseLedger, CallDetails, CallLog, UsageRecorder
from tokenomy.pipeline import TRACE_KEY
from tokenomy.settings import telemetry_from_env
from tokenomy.telemetry import as_observers
from tokenomy.tokens import PriceTable, TokenUsage

if TYPE_CHECKING:
    from tokenomy.telemetry import Telemetry

__all__ = ["TokenomyCallbackHandler", "disable", "enable", "track_usage"]

_LC_CACHE = "llm_cache"


@dataclass
class _Run:
    started: float
    model: str | None
    tags: dict[str, str]
    messages: list[BaseMessage] | None = None
    prompts: list[str] | None = None
    tools: Any = None
    streamed: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    provider: str | None = None


class TokenomyCallbackHandler(BaseCallbackHandler):
    """Records one :class:`~tokenomy.monitor.UsageRecord` per LLM call into a ledger.

    Usage comes from ``AIMessage.usage_metadata``, else from
    ``llm_output["token_usage"]``, else the handler counts the prompt and the
    output itself and marks the record estimated. A response LangChain served
    from its LLM cache (``usage_metadata["total_cost"] == 0``) or from tokenomy's
    cache is recorded as tokens saved, not spent. Run tags of the form
    ``"key:value"`` and scalar run metadata become record tags (``user``,
    ``feature``, ``session``…).

    Args:
        ledger: where records go (default: a new in-memory ledger).
        prices: price table (default: the bundled one).
        tags: tags added to every record.
        telemetry: export every call as an OpenTelemetry span and metrics: a
            :class:`tokenomy.telemetry.Telemetry`, or True for one on the global
            OpenTelemetry providers (default None: nothing exported, nothing spent).
        call_log: also append each call to this audit-format log
            (``CallLog("calls.jsonl", include_text=False, redact=None)``), which
            ``tokenomy audit`` reads (default None).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> handler = TokenomyCallbackHandler()
        >>> _ = FakeListChatModel(responses=["hi"]).invoke("hello", config={"callbacks": [handler]})
        >>> handler.ledger.totals().calls
        1
    """

    raise_error = False

    def __init__(
        self,
        *,
        ledger: BaseLedger | None = None,
        prices: PriceTable | None = None,
        tags: Mapping[str, str] | None = None,
        telemetry: Telemetry | bool | None = None,
        call_log: CallLog | None = None,
    ) -> None:
        self.recorder = UsageRecorder(
            ledger=ledger,
            prices=prices,
            tags=tags,
            source="langchain",
            observers=as_observers(telemetry),
            call_log=call_log,
        )
        self._runs: dict[UUID, _Run] = {}
        self._forward: TokenomyCallbackHandler | None = None

    @property
    def ledger(self) -> BaseLedger:
        return self.recorder.ledger

    # -- start -------------------------------------------------------------------

    @override
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        self._runs[run_id] = _Run(
            started=time.perf_counter(),
            model=model_from_run(serialized, params, metadata),
            tags=tags_from_run(tags, metadata),
            messages=messages[0] if messages else [],
            tools=params.get("tools"),
            params=params,
            provider=(metadata or {}).get("ls_provider"),
        )

    @override
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        self._runs[run_id] = _Run(
            started=time.perf_counter(),
            model=model_from_run(serialized, params, metadata),
            tags=tags_from_run(tags, metadata),
            prompts=prompts,
            params=params,
            provider=(metadata or {}).get("ls_provider"),
        )

    @override
    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(token, str) and token:
            run.streamed.append(token)

    # -- end ---------------------------------------------------------------------

    @override
    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:  # started before this handler was attached
            run = _Run(started=time.perf_counter(), model=None, tags={})
        latency: float | None = time.perf_counter() - run.started
        first = (
            response.generations[0][0] if response.generations and response.generations[0] else None
        )
        message = first.message if isinstance(first, ChatGeneration) else None
        usage, cache_marker = usage_from_result(response, message)
        model = _served_model(message, response) or run.model
        output = _output_text(first, run)
        cache_hit = None
        if cache_marker is not None:
            cache_hit = cache_marker or _LC_CACHE
            latency = None  # the model did not run
        prompt = self._prompt(run)
        self._record(
            model=model,
            usage=usage,
            prompt=prompt,
            output_text=output,
            latency_s=latency,
            tags=run.tags,
            cache_hit=cache_hit,
            tools=run.tools,
            details=self._details(run, message, prompt, output) if self._observed() else None,
        )

    @override
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        details: CallDetails | None = None
        if self._observed():
            details = self._details(run, None, self._prompt(run), None)
            details["error"] = error
        self._record(
            model=run.model,
            usage=TokenUsage(),
            latency_s=time.perf_counter() - run.started,
            tags={**run.tags, "error": type(error).__name__},
            status="error",
            details=details,
        )

    def sent(self, run_id: UUID, messages: list[BaseMessage]) -> None:
        """Note that run ``run_id`` sent the model ``messages`` instead of the ones it
        started with (a window or compression stage changed them), so a count the
        handler has to estimate is the count of what was sent."""
        run = self._runs.get(run_id)
        if run is not None:
            run.messages = list(messages)

    # -- helpers -----------------------------------------------------------------

    def _observed(self) -> bool:
        handler: TokenomyCallbackHandler | None = self
        while handler is not None:
            if handler.recorder.observers:
                return True
            handler = handler._forward
        return False

    @staticmethod
    def _details(
        run: _Run, message: BaseMessage | None, prompt: Any, output: str | None
    ) -> CallDetails:
        """What telemetry exports beyond the record (see ``RecordObserver``)."""
        meta = message.response_metadata if message is not None else {}
        finish = meta.get("finish_reason") or meta.get("stop_reason")
        return {
            "operation": "chat" if run.messages is not None else "text_completion",
            "request_model": run.model,
            "provider": run.provider,
            "max_tokens": run.params.get("max_tokens"),
            "temperature": run.params.get("temperature"),
            "finish_reasons": [finish] if finish else [],
            "trace": meta.get(TRACE_KEY),
            "route": meta.get(ROUTE_KEY),
            "prompt": prompt,
            "completion": output,
        }

    def _record(self, **call: Any) -> None:
        self.recorder.record_call(**call)
        parent = self._forward
        while parent is not None:  # nested track_usage() scopes see inner calls too
            parent.recorder.record_call(**call)
            parent = parent._forward

    @staticmethod
    def _prompt(run: _Run) -> str | list[dict[str, Any]] | None:
        if run.messages is not None:
            return to_openai_messages(run.messages)
        if run.prompts:
            return "\n".join(run.prompts)
        return None


def _served_model(message: BaseMessage | None, response: LLMResult) -> str | None:
    if message is not None:
        meta = message.response_metadata or {}
        name = meta.get("model_name") or meta.get("model")
        if isinstance(name, str) and name:
            return name
    out = response.llm_output or {}
    name = out.get("model_name") or out.get("model")
    return name if isinstance(name, str) and name else None


def _output_text(first: Any, run: _Run) -> str:
    if first is None:
        return "".join(run.streamed)
    if isinstance(first, ChatGeneration) and isinstance(first.message, AIMessage):
        text: str = str(first.message.text)
        calls = first.message.tool_calls
        if calls:
            text += "".join(f"{c['name']}{c['args']}" for c in calls)
        return text or "".join(run.streamed)
    return str(getattr(first, "text", "")) or "".join(run.streamed)


# -- global registration ---------------------------------------------------------

_scoped: ContextVar[TokenomyCallbackHandler | None] = ContextVar(
    "tokenomy_track_usage", default=None
)


class _GlobalSlot:
    """Quacks like a ContextVar whose value is visible from every thread."""

    def __init__(self) -> None:
        self.handler: TokenomyCallbackHandler | None = None

    def get(self) -> TokenomyCallbackHandler | None:
        return self.handler


_global = _GlobalSlot()
_hooks_registered = False


def _register_hooks() -> None:
    global _hooks_registered
    if _hooks_registered:
        return
    from langchain_core.tracers.context import register_configure_hook

    register_configure_hook(_scoped, inheritable=True)
    register_configure_hook(_global, inheritable=True)  # type: ignore[arg-type]
    _hooks_registered = True


@contextmanager
def track_usage(
    *,
    ledger: BaseLedger | None = None,
    prices: PriceTable | None = None,
    tags: Mapping[str, str] | None = None,
    telemetry: Telemetry | bool | None = None,
) -> Iterator[TokenomyCallbackHandler]:
    """Record every LangChain model call made inside the ``with`` block.

    Scopes nest: an outer ``track_usage`` also sees the calls of an inner one.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> with track_usage(tags={"feature": "demo"}) as usage:
        ...     _ = FakeListChatModel(responses=["hi"]).invoke("hello")
        >>> usage.ledger.totals().calls
        1
    """
    _register_hooks()
    handler = TokenomyCallbackHandler(ledger=ledger, prices=prices, tags=tags, telemetry=telemetry)
    handler._forward = _scoped.get()
    token = _scoped.set(handler)
    try:
        yield handler
    finally:
        _scoped.reset(token)


def enable(
    *,
    ledger: BaseLedger | None = None,
    prices: PriceTable | None = None,
    tags: Mapping[str, str] | None = None,
    telemetry: Telemetry | bool | None = None,
    call_log: CallLog | None = None,
) -> TokenomyCallbackHandler:
    """Record every LangChain model call in this process, from any thread.

    Calling it again replaces the handler; :func:`disable` stops recording.
    ``telemetry=True`` also exports each call as an OpenTelemetry span and metrics
    (see :class:`tokenomy.telemetry.Telemetry`); left None, the environment decides
    (``TOKENOMY_TELEMETRY__ENABLED=true``).
    ``call_log`` also writes each call in the audit's format (see
    :class:`~tokenomy.monitor.CallLog`).

    Returns:
        The handler; its ``ledger`` holds the records.
    """
    _register_hooks()
    handler = TokenomyCallbackHandler(
        ledger=ledger,
        prices=prices,
        tags=tags,
        telemetry=telemetry_from_env(telemetry),
        call_log=call_log,
    )
    _global.handler = handler
    return handler


def disable() -> None:
    """Stop the recording started by :func:`enable`."""
    _global.handler = None


def note_sent(run_manager: Any, messages: list[BaseMessage]) -> None:
    """Tell the :class:`TokenomyCallbackHandler` instances on ``run_manager`` (an LLM run's
    callback manager) what the model was actually sent."""
    for handler in getattr(run_manager, "handlers", None) or ():
        if isinstance(handler, TokenomyCallbackHandler):
            handler.sent(run_manager.run_id, messages)
