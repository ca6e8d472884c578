"""Conversation windows and context compression for LangChain messages.

``window_messages`` has the contract of LangChain's ``trim_messages`` (call it with
messages to get messages back, or without to get a Runnable for a chain), but
keeps what the next answer needs instead of the newest tokens: see
:class:`tokenomy.context.ConversationWindow`. The same window runs as a
stage of tokenomy's request pipeline inside
:class:`~langchain_tokenomy.OptimizedChatModel` and
:class:`~langchain_tokenomy.TokenomyMiddleware`. Neither changes the caller's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import (
    BaseMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langchain_tokenomy._convert import model_id_of
from langchain_tokenomy._pipeline import SESSION_KEYS, as_dict
from tokenomy.context import ConversationWindow, WindowResult
from tokenomy.context.window import SUMMARY_PREFIX
from tokenomy.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["apply_window", "session_from", "window_messages"]


def apply_window(
    window: ConversationWindow,
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    session: str | None = None,
    pin: Callable[[BaseMessage], bool] | None = None,
) -> tuple[list[BaseMessage], WindowResult]:
    """The messages to send (the caller's own objects, plus a summary message)."""
    msgs = list(messages)
    pinned = [i for i, m in enumerate(msgs) if pin is not None and pin(m)]
    result = window.fit([as_dict(m) for m in msgs], tools=tools, pinned=pinned, session=session)
    if not result.evicted:
        return msgs, result
    out: list[BaseMessage] = [msgs[i] for i in result.kept]
    if result.summary is not None and result.summary_position is not None:
        out.insert(result.summary_position, SystemMessage(content=SUMMARY_PREFIX + result.summary))
    return out, result


def session_from(config: Mapping[str, Any] | None) -> str | None:
    """The conversation id in a run's metadata or ``configurable``, if any."""
    for part in ("metadata", "configurable"):
        values = (config or {}).get(part) or {}
        for key in SESSION_KEYS:
            if values.get(key) is not None:
                return str(values[key])
    return None


def _coerce(messages: Sequence[Any] | PromptValue) -> list[BaseMessage]:
    if isinstance(messages, PromptValue):
        return messages.to_messages()
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ConfigError(
            "window_messages takes a list of messages (or a PromptValue); "
            f"got {type(messages).__name__}."
        )
    return convert_to_messages(messages)


def window_messages(
    messages: Sequence[Any] | PromptValue | None = None,
    *,
    max_tokens: int | None = None,
    window: ConversationWindow | None = None,
    session: str | None = None,
    pin: Callable[[BaseMessage], bool] | None = None,
    token_counter: str | BaseLanguageModel[Any] | None = None,
    strategy: str = "last",
    include_system: bool = True,
    **window_options: Any,
) -> Any:
    """Fit a chat history to a token budget: ``trim_messages``' contract, tokenomy's window.

    A drop-in for ``trim_messages(max_tokens=..., token_counter=llm, strategy="last",
    include_system=True)``: the same call shapes, but what is kept is decided by
    relevance and recency, with the system prompt, the stated goal and the current turn
    always kept. ``token_counter`` names the model whose tokenizer counts (a model name
    or a chat model); trim_messages' other options (``start_on``, ``end_on``,
    ``allow_partial``, ``text_splitter``) have no equivalent and are refused.

    Args:
        messages: the history; omit it to get a Runnable for a chain.
        max_tokens: the budget (builds a :class:`ConversationWindow` with
            ``window_options``), unless ``window`` is given.
        window: a window to reuse (it keeps per-session state: rolling summaries,
            session budgets).
        session: the conversation's id; in a chain it is read from the run's
            metadata or ``configurable`` (``session_id``, ``thread_id``).
        pin: messages for which it returns True are always sent.
        token_counter: the model (name, or a chat model with ``model_name``/``model``)
            whose tokenizer counts; default gpt-4o's.
        strategy: only ``"last"`` (the newest turns are favoured).
        include_system: accepted for compatibility; the system prompt is always kept.

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> trimmer = window_messages(max_tokens=2000, embedder=HashingEmbedder())
        >>> trimmer.invoke([("system", "Be brief."), ("human", "hi")])[1].content
        'hi'
    """
    unsupported = sorted(k for k in _TRIM_ONLY if k in window_options)
    if unsupported or strategy != "last":
        raise ConfigError(
            f"window_messages has no equivalent of trim_messages' {unsupported or ['strategy']}"
            "; the window keeps whole turns, the system prompt and the current turn."
        )
    if window is None:
        if max_tokens is None:
            raise ConfigError("window_messages needs max_tokens=… or window=ConversationWindow(…).")
        model = _counting_model(token_counter)
        if model is not None:
            window_options.setdefault("model", model)
        window = ConversationWindow(max_tokens=max_tokens, **window_options)
    elif max_tokens is not None or window_options:
        raise ConfigError("pass either window=… or max_tokens=… with window options, not both.")
    chosen = window

    def run(value: Sequence[Any] | PromptValue, config: RunnableConfig) -> list[BaseMessage]:
        sid = session if session is not None else session_from(config)
        return apply_window(chosen, _coerce(value), session=sid, pin=pin)[0]

    if messages is not None:
        return apply_window(chosen, _coerce(messages), session=session, pin=pin)[0]
    return RunnableLambda(run, name="window_messages")


_TRIM_ONLY = ("start_on", "end_on", "allow_partial", "text_splitter")


def _counting_model(token_counter: str | BaseLanguageModel[Any] | None) -> str | None:
    if token_counter is None or isinstance(token_counter, str):
        return token_counter
    model = model_id_of(token_counter)
    if model is not None:
        return model
    raise ConfigError(
        "token_counter must be a model name or a chat model with a model_name; tokenomy "
        f"counts with the model's own tokenizer (got {type(token_counter).__name__})."
    )
