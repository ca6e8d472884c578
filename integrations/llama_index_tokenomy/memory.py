"""``TokenomyChatMemory``: tokenomy's conversation window as a LlamaIndex chat memory.

A drop-in for ``ChatMemoryBuffer`` in any chat engine
(``index.as_chat_engine(memory=TokenomyChatMemory.from_defaults(token_limit=3000))``):
the whole history stays in the chat store, and ``get`` returns what fits the
budget, keeping what the current question needs instead of only the newest
messages (see :class:`tokenomy.context.ConversationWindow`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM
from llama_index.core.memory.types import DEFAULT_CHAT_STORE_KEY, BaseChatStoreMemory
from llama_index.core.storage.chat_store import BaseChatStore, SimpleChatStore
from pydantic import Field, PrivateAttr
from typing_extensions import override

from llama_index_tokenomy._convert import to_openai_messages
from llama_index_tokenomy._pipeline import own_messages
from tokenomy.context import ConversationWindow
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.pipeline import ContextStage

__all__ = ["TokenomyChatMemory"]

log = logging.getLogger(__name__)

_DEFAULT_LIMIT = 3000
_CONTEXT_SHARE = 0.75  # of an LLM's context window, as ChatMemoryBuffer does


class TokenomyChatMemory(BaseChatStoreMemory):
    """A chat memory whose ``get`` applies tokenomy's conversation window.

    The chat store key names the session (rolling summaries, session budgets).
    The question the engine is about to send (``input``) counts as the current
    turn, and ``initial_token_count`` (the engine's prefix) comes off the budget.
    """

    dedupe: bool = Field(
        default=True, description="Send a passage repeated across turns only once."
    )
    _window: ConversationWindow = PrivateAttr()

    def __init__(self, *, window: ConversationWindow | None = None, **data: Any) -> None:
        super().__init__(**data)
        self._window = window or ConversationWindow(max_tokens=_DEFAULT_LIMIT)

    @property
    def window(self) -> ConversationWindow:
        """The window ``get`` applies."""
        return self._window

    @classmethod
    @override
    def class_name(cls) -> str:
        return "TokenomyChatMemory"

    @classmethod
    @override
    def from_defaults(
        cls,
        chat_history: list[ChatMessage] | None = None,
        llm: LLM | None = None,
        chat_store: BaseChatStore | None = None,
        chat_store_key: str = DEFAULT_CHAT_STORE_KEY,
        token_limit: int | None = None,
        window: ConversationWindow | None = None,
        **window_options: Any,
    ) -> TokenomyChatMemory:
        """Build a memory.

        Args:
            chat_history: messages to start with.
            llm: sizes the default budget (3/4 of its context window).
            chat_store / chat_store_key: where the history lives.
            token_limit: the window's budget (default 3,000 tokens).
            window: a window to use instead (``token_limit`` and options then unused).
            window_options: passed to :class:`ConversationWindow`.
        """
        if window is None:
            if token_limit is None:
                token_limit = (
                    int(llm.metadata.context_window * _CONTEXT_SHARE)
                    if llm is not None
                    else _DEFAULT_LIMIT
                )
            window = ConversationWindow(max_tokens=token_limit, **window_options)
        elif token_limit is not None or window_options:
            raise ConfigError("pass either window=… or token_limit=… with options, not both.")
        store = chat_store or SimpleChatStore()
        if chat_history is not None:
            store.set_messages(chat_store_key, chat_history)
        return cls(window=window, chat_store=store, chat_store_key=chat_store_key)

    @override
    def get(
        self, input: str | None = None, initial_token_count: int = 0, **kwargs: Any
    ) -> list[ChatMessage]:
        """The history to send with ``input``: what fits, the rest summarized."""
        history = self.get_all()
        dicts = to_openai_messages(history)
        pending = bool(input) and not (
            history and history[-1].role == MessageRole.USER and history[-1].content == input
        )
        if pending:  # the engine adds the question itself; it still counts
            dicts.append({"role": "user", "content": input})
        reserve = max(0, min(initial_token_count, self.window.max_tokens - 1))
        try:
            prepared = ContextStage(window=self.window, dedupe=self.dedupe).prepare(
                dicts, session=self.chat_store_key, reserve_tokens=reserve
            )
        except BudgetExceededError:
            raise
        except Exception as exc:  # never fail the chat over the window: send it all
            log.warning("tokenomy: the window failed (%r); sending the whole history.", exc)
            return history
        kept = [
            (origin, message)
            for origin, message in zip(prepared.origins, prepared.messages, strict=True)
            if origin is None or origin < len(history)  # not the pending question
        ]
        return own_messages(history, dicts, [m for _, m in kept], [o for o, _ in kept])

    @override
    async def aget(
        self, input: str | None = None, initial_token_count: int = 0, **kwargs: Any
    ) -> list[ChatMessage]:
        return await asyncio.to_thread(
            self.get, input=input, initial_token_count=initial_token_count, **kwargs
        )
