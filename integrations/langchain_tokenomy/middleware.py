"""Agent middleware for ``create_agent``: each model call through tokenomy's pipeline.

:class:`TokenomyMiddleware` wraps each model call (``wrap_model_call``): the model
is sent a windowed, compressed copy of the conversation while the agent's state
keeps every original message, and a spend budget holds across the agent's calls.
:class:`TokenomyRoutingMiddleware` also routes each call to the cheapest model
predicted to answer it, with fallback. The agent's system prompt and tools are
counted and always sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_tokenomy._convert import model_id_of
from langchain_tokenomy._pipeline import as_dict, needs, sent_messages, session_of
from langchain_tokenomy.routing import table_for
from tokenomy.budget import Budget
from tokenomy.cache import Answer
from tokenomy.compress import DEFAULT_MIN_TOKENS, DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.context import ConversationWindow
from tokenomy.output import OutputControl
from tokenomy.pipeline import ContextStage, Pipeline, Request, Sent, Trace, answer_cap
from tokenomy.route import Router
from tokenomy.tokens import PriceTable, parse_usage

__all__ = ["TokenomyMiddleware", "TokenomyRoutingMiddleware"]

Result = ModelResponse[Any] | AIMessage


class TokenomyMiddleware(AgentMiddleware[Any, Any, Any]):
    """Runs each agent model call through the pipeline: budget, window, compression.

    Args:
        window: fits the conversation to a budget (default None: no window).
        compressor: compresses long human and tool messages (default None).
        compress_ratio: share of a long message's tokens to keep (default 0.4).
        compress_min_tokens: messages shorter than this are sent as they are
            (default 800).
        budget: a :class:`tokenomy.budget.Budget` reserved and settled on
            every model call of the agent (the agent's model must be priced).
        output: a :class:`tokenomy.output.OutputControl`: plans each call's
            ``max_tokens`` (sent in ``model_settings``) and continues answers cut by
            their cap (agent model calls are not streamed through middleware).
        prices: the :class:`tokenomy.PriceTable` the budget prices calls with
            (default: the bundled one; add your own models with ``with_prices``).

    The conversation id for per-session state (rolling summaries, session
    budgets) is the run's ``thread_id`` (or ``session_id``).

    Example:
        >>> from langchain.agents import create_agent  # doctest: +SKIP
        >>> agent = create_agent(model, tools, middleware=[  # doctest: +SKIP
        ...     TokenomyMiddleware(window=ConversationWindow(max_tokens=4000))])
    """

    def __init__(
        self,
        *,
        window: ConversationWindow | None = None,
        compressor: ExtractiveCompressor | None = None,
        compress_ratio: float = DEFAULT_RATIO,
        compress_min_tokens: int = DEFAULT_MIN_TOKENS,
        budget: Budget | None = None,
        output: OutputControl | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        super().__init__()
        self.models: dict[str, BaseChatModel] = {}
        self.pipeline: Pipeline[Result, Any] = Pipeline(
            budget=budget,
            context=ContextStage(
                window=window,
                compressor=compressor,
                ratio=compress_ratio,
                min_tokens=compress_min_tokens,
            ),
            output=output,
            prices=prices,
        )

    def _request(self, request: ModelRequest[Any]) -> tuple[Request, list[BaseMessage]]:
        system = [request.system_message] if request.system_message is not None else []
        messages: list[BaseMessage] = [*system, *request.messages]
        tools = [t if isinstance(t, dict) else convert_to_openai_tool(t) for t in request.tools]
        return Request(
            messages=tuple(as_dict(m) for m in messages),
            model=None if self.models else model_id_of(request.model),
            tools=tuple(tools) or None,
            max_tokens=answer_cap((request.model_settings or {}).get("max_tokens")),
            session=_session(),
            require=needs(messages, bool(tools)),
        ), messages

    def _override(
        self, request: ModelRequest[Any], messages: list[BaseMessage], sent: Sent
    ) -> ModelRequest[Any]:
        changes: dict[str, Any] = {}
        if sent.changed:
            out = sent_messages(messages, sent)
            if request.system_message is not None and out and out[0] is messages[0]:
                out = out[1:]
            changes["messages"] = out
        if sent.model is not None:
            changes["model"] = self.models[sent.model]
        if sent.planned_max_tokens is not None:
            changes["model_settings"] = {
                **request.model_settings,
                "max_tokens": sent.planned_max_tokens,
            }
        return request.override(**changes) if changes else request

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Result],
    ) -> Any:
        neutral, messages = self._request(request)
        return self.pipeline.run(
            neutral, lambda sent: handler(self._override(request, messages, sent)), _AgentCodec()
        )

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[Result]],
    ) -> Any:
        neutral, messages = self._request(request)
        return await self.pipeline.arun(
            neutral, lambda sent: handler(self._override(request, messages, sent)), _AgentCodec()
        )


class TokenomyRoutingMiddleware(TokenomyMiddleware):
    """Routes each model call of a ``create_agent`` agent, with fallback on failure.

    Args:
        models: the chat models by name; the agent's own model is not used.
        router: as for :class:`~langchain_tokenomy.RoutingChatModel` (default: built
            from the models' prices, unfitted).
        budget: a :class:`tokenomy.budget.Budget`, reserved and settled on
            every call; when it runs low the router picks cheaper models.
        window, compressor, compress_ratio, compress_min_tokens, output, prices: as
            for :class:`TokenomyMiddleware`.
    """

    def __init__(
        self,
        models: Mapping[str, BaseChatModel],
        *,
        router: Router | None = None,
        budget: Budget | None = None,
        timeout_s: float | None = None,
        window: ConversationWindow | None = None,
        compressor: ExtractiveCompressor | None = None,
        compress_ratio: float = DEFAULT_RATIO,
        compress_min_tokens: int = DEFAULT_MIN_TOKENS,
        output: OutputControl | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        super().__init__(
            window=window,
            compressor=compressor,
            compress_ratio=compress_ratio,
            compress_min_tokens=compress_min_tokens,
        )
        self.models = dict(models)
        self.router = router or Router(table_for(self.models, prices=prices))
        self.pipeline = Pipeline(
            budget=budget,
            context=self.pipeline.context,
            router=self.router,
            models=list(self.models),
            timeout_s=timeout_s,
            output=output,
            prices=prices,
        )


class _AgentCodec:
    """A middleware's results: a ``ModelResponse`` (or a bare ``AIMessage``)."""

    def answer(self, result: Result, sent: Sent) -> Answer:
        message = _ai_message(result)
        meta = message.response_metadata if message is not None else {}
        return Answer(
            payload="",
            text=message.text if message is not None else "",
            model=meta.get("model_name") or meta.get("model"),
            usage=parse_usage(message.usage_metadata) if message is not None else None,
            finish_reason=meta.get("finish_reason") or meta.get("stop_reason"),
        )

    def rebuild(self, payload: str, served: str) -> Result:
        raise NotImplementedError("agent middleware does not cache")  # no cache stage here

    def merge(self, chunks: Sequence[Any]) -> Result:
        raise NotImplementedError("agent middleware does not stream")

    def replay(self, result: Result) -> Iterable[Any]:
        raise NotImplementedError("agent middleware does not stream")

    def annotate(self, result: Result, trace: Trace) -> Result:
        message = _ai_message(result)
        if message is not None:
            message.response_metadata = {**message.response_metadata, **trace.metadata()}
        return result

    def last_chunk(self, trace: Trace) -> None:
        return None

    def with_text(self, result: Result, text: str, finish_reason: str | None) -> Result:
        message = _ai_message(result)
        if message is None:
            return result
        meta = {**message.response_metadata, "finish_reason": finish_reason}
        new = message.model_copy(update={"content": text, "response_metadata": meta})
        if isinstance(result, AIMessage):
            return new
        messages = [new if m is message else m for m in result.result]
        return dataclasses.replace(result, result=messages)


def _ai_message(result: Result) -> AIMessage | None:
    if isinstance(result, AIMessage):
        return result
    messages = getattr(result, "result", None) or []
    return next((m for m in messages if isinstance(m, AIMessage)), None)


def _session() -> str | None:
    try:
        from langgraph.config import get_config

        config = get_config()
    except RuntimeError:  # called outside a graph run
        return None
    for part in ("metadata", "configurable"):
        values = config.get(part)
        session = session_of(values if isinstance(values, Mapping) else None)
        if session is not None:
            return session
    return None
