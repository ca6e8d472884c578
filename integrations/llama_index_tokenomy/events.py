"""Usage accounting for LlamaIndex: an instrumentation event handler and ``enable()``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]  # re-exported without __all__
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
)
from pydantic import PrivateAttr
from typing_extensions import override

from llama_index_tokenomy._convert import (
    model_from_payload,
    to_openai_messages,
    usage_from_response,
)
from tokenomy.monitor import BaseLedger, CallDetails, CallLog, UsageRecorder
from tokenomy.pipeline import TRACE_KEY
from tokenomy.settings import telemetry_from_env
from tokenomy.telemetry import as_observers
from tokenomy.tokens import PriceTable

if TYPE_CHECKING:
    from tokenomy.telemetry import Telemetry

__all__ = ["TokenomyEventHandler", "disable", "enable"]

logger = logging.getLogger(__name__)

_START = (LLMChatStartEvent, LLMCompletionStartEvent)
_END = (LLMChatEndEvent, LLMCompletionEndEvent)
_PROGRESS = (LLMChatInProgressEvent, LLMCompletionInProgressEvent)

# LLM calls open in the current context; a call made inside another (CustomLLM's
# chat() calling complete()) is the one recorded, the outer one is skipped, so one
# model call gives one record.
_open_calls: ContextVar[tuple[str, ...]] = ContextVar("tokenomy_open_llm_calls", default=())


@dataclass
class _Call:
    started: float
    model: str | None
    parent: str | None
    nested_recorded: bool = False
    deltas: list[str] | None = None


class TokenomyEventHandler(BaseEventHandler):
    """Records one :class:`~tokenomy.monitor.UsageRecord` per LlamaIndex LLM call.

    Usage is read from the response's ``raw["usage"]`` (or ``raw.usage``), else
    from ``additional_kwargs`` (``prompt_tokens``…), else counted from the
    messages and the output and marked estimated. Tags set with LlamaIndex's
    ``instrument_tags({...})`` become record tags.

    Args:
        ledger: where records go (default: a new in-memory ledger).
        prices: price table (default: the bundled one).
        tags: tags added to every record.
        telemetry: export every call (and every cache hit of ``OptimizedLLM``) as an
            OpenTelemetry span and metrics: a :class:`tokenomy.telemetry.Telemetry`,
            or True for one on the global providers (default None).
        call_log: also append each call to this audit-format log
            (:class:`tokenomy.monitor.CallLog`), which ``tokenomy audit`` reads.
    """

    _recorder: UsageRecorder = PrivateAttr()
    _calls: dict[str, _Call] = PrivateAttr(default_factory=dict)

    def __init__(
        self,
        *,
        ledger: BaseLedger | None = None,
        prices: PriceTable | None = None,
        tags: Mapping[str, str] | None = None,
        telemetry: Telemetry | bool | None = None,
        call_log: CallLog | None = None,
    ) -> None:
        super().__init__()
        self._recorder = UsageRecorder(
            ledger=ledger,
            prices=prices,
            tags=tags,
            source="llama_index",
            observers=as_observers(telemetry),
            call_log=call_log,
        )

    @classmethod
    @override
    def class_name(cls) -> str:
        return "TokenomyEventHandler"

    @property
    def ledger(self) -> BaseLedger:
        return self._recorder.ledger

    @property
    def recorder(self) -> UsageRecorder:
        return self._recorder

    @override
    def handle(self, event: Any, **kwargs: Any) -> None:
        # The dispatcher swallows handler exceptions silently; log ours instead.
        try:
            if isinstance(event, _START):
                self._start(event)
            elif isinstance(event, _PROGRESS):
                call = self._calls.get(_key(event))
                delta = getattr(event.response, "delta", None)
                if call is not None and delta:
                    if call.deltas is None:
                        call.deltas = []
                    call.deltas.append(delta)
            elif isinstance(event, _END):
                self._end(event)
        except Exception:
            logger.exception("tokenomy: could not record a LlamaIndex LLM event")

    def _start(self, event: Any) -> None:
        key = _key(event)
        stack = _open_calls.get()
        self._calls[key] = _Call(
            started=time.perf_counter(),
            model=model_from_payload(event.model_dict),
            parent=stack[-1] if stack else None,
        )
        _open_calls.set((*stack, key))

    def _end(self, event: Any) -> None:
        key = _key(event)
        stack = _open_calls.get()
        if key in stack:
            _open_calls.set(tuple(k for k in stack if k != key))
        call = self._calls.pop(key, None)
        if call is None:
            call = _Call(started=time.perf_counter(), model=None, parent=None)
        if call.parent is not None and call.parent in self._calls:
            self._calls[call.parent].nested_recorded = True
        if call.nested_recorded:
            return  # the inner call was recorded already
        response = event.response
        usage, served_model, text = usage_from_response(response)
        if call.deltas:  # streamed: the deltas add up to the whole answer
            text = "".join(call.deltas)
        chat = isinstance(event, LLMChatEndEvent)
        prompt: Any = to_openai_messages(event.messages) if chat else event.prompt
        details: CallDetails | None = None
        if self._recorder.observers:
            extra = getattr(response, "additional_kwargs", None) or {}
            details = {
                "operation": "chat" if chat else "text_completion",
                "request_model": call.model,
                "trace": extra.get(TRACE_KEY),
                "route": extra.get("tokenomy_route"),
                "prompt": prompt,
                "completion": text,
            }
        self._recorder.record_call(
            model=served_model or call.model,
            usage=usage,
            prompt=prompt,
            output_text=text,
            latency_s=time.perf_counter() - call.started,
            tags={str(k): str(v) for k, v in (event.tags or {}).items() if v is not None},
            details=details,
        )


def _key(event: Any) -> str:
    return str(event.span_id)


_ENABLED: list[TokenomyEventHandler] = []


def enable(
    *,
    ledger: BaseLedger | None = None,
    prices: PriceTable | None = None,
    tags: Mapping[str, str] | None = None,
    telemetry: Telemetry | bool | None = None,
    call_log: CallLog | None = None,
) -> TokenomyEventHandler:
    """Attach a :class:`TokenomyEventHandler` to LlamaIndex's root dispatcher.

    Every LLM call of every LlamaIndex component is recorded from then on. Calling
    it again replaces the handler; :func:`disable` detaches it. ``telemetry=True``
    also exports each call as an OpenTelemetry span and metrics; left None, the
    environment decides (``TOKENOMY_TELEMETRY__ENABLED=true``).
    """
    disable()
    handler = TokenomyEventHandler(
        ledger=ledger,
        prices=prices,
        tags=tags,
        telemetry=telemetry_from_env(telemetry),
        call_log=call_log,
    )
    get_dispatcher().add_event_handler(handler)
    _ENABLED.append(handler)
    return handler


def disable() -> None:
    """Detach the handler attached by :func:`enable`."""
    root = get_dispatcher()
    for handler in _ENABLED:
        root.event_handlers = [h for h in root.event_handlers if h is not handler]
    _ENABLED.clear()


def enabled_handler() -> TokenomyEventHandler | None:
    """The handler attached by :func:`enable`, if any."""
    return _ENABLED[-1] if _ENABLED else None
