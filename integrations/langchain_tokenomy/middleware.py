"""``TokenomyMiddleware``: the window and compression for ``create_agent``.

It wraps each model call (``wrap_model_call``): the model is sent a windowed,
compressed copy of the conversation, while the agent's state keeps every
original message. The agent's system prompt and tools are counted in the budget
and always sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_tokenomy.window import ContextStage, session_from
from tokenomy.compress import ExtractiveCompressor
from tokenomy.context import ConversationWindow

__all__ = ["TokenomyMiddleware"]


class TokenomyMiddleware(AgentMiddleware[Any, Any, Any]):
    """Sends each agent model call a windowed, compressed copy of the conversation.

    Args:
        window: fits the conversation to a budget (default None: no window).
        compressor: compresses long human and tool messages (default None).
        compress_ratio: share of a long message's tokens to keep.
        compress_min_tokens: messages shorter than this are sent as they are.

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
        compress_ratio: float = 0.4,
        compress_min_tokens: int = 800,
    ) -> None:
        super().__init__()
        self.stage = ContextStage(
            window=window,
            compressor=compressor,
            ratio=compress_ratio,
            min_tokens=compress_min_tokens,
        )

    def _request(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        if not self.stage.active:
            return request
        system = [request.system_message] if request.system_message is not None else []
        tools = [t if isinstance(t, dict) else convert_to_openai_tool(t) for t in request.tools]
        sent: list[BaseMessage] = self.stage.prepare(
            [*system, *request.messages], tools=tools or None, session=_session()
        )
        if system and sent and sent[0] is system[0]:
            sent = sent[1:]
        return request.override(messages=sent)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> Any:
        return handler(self._request(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        return await handler(await asyncio.to_thread(self._request, request))


def _session() -> str | None:
    try:
        from langgraph.config import get_config

        return session_from(get_config())
    except RuntimeError:  # called outside a graph run
        return None
