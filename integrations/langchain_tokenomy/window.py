"""Conversation windows and context compression for LangChain messages.

``window_messages`` has the contract of LangChain's ``trim_messages`` (call it with
messages to get messages back, or without to get a Runnable for a chain), but
keeps what the next answer needs instead of the newest tokens: see
:class:`tokenomy.context.ConversationWindow`. ``prepare_messages`` is the stage
:class:`~langchain_tokenomy.OptimizedChatModel` and
:class:`~langchain_tokenomy.TokenomyMiddleware` run before the model: the window,
then compression of long messages. Neither changes the caller's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import (
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
    convert_to_openai_messages,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langchain_tokenomy._convert import model_id_of
from tokenomy.compress import ExtractiveCompressor
from tokenomy.compress.message import compress_message
from tokenomy.context import ConversationWindow, WindowResult
from tokenomy.context.dedupe import drop_repeated_passages
from tokenomy.context.window import SUMMARY_PREFIX
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.text.messages import message_text, trailing_question
from tokenomy.tokens.counter import DEFAULT_MODEL

log = logging.getLogger(__name__)

__all__ = ["ContextStage", "apply_window", "session_from", "window_messages"]

SESSION_KEYS = ("session_id", "thread_id", "conversation_id")
"""Run-metadata (or ``configurable``) keys read, in order, as the conversation's id."""


def _as_dict(message: BaseMessage) -> dict[str, Any]:
    converted = convert_to_openai_messages([message])
    if len(converted) == 1:
        return dict(converted[0])
    # a message LangChain splits in two (tool results inside a human message): one unit
    return {
        "role": converted[0].get("role", "user"),
        "content": "\n".join(message_text(m) for m in converted),
    }


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
    result = window.fit([_as_dict(m) for m in msgs], tools=tools, pinned=pinned, session=session)
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


@dataclass(frozen=True)
class ContextStage:
    """What runs on the messages before the model: a window, then compression.

    Args:
        window: fits the history to a budget (None: no window).
        compressor: compresses long messages (None: no compression).
        ratio: share of a long message's tokens to keep, in (0, 1].
        min_tokens: messages shorter than this are sent as they are.
        roles: message types compressed (default human and tool messages; system
            prompts are instructions and are never compressed).
        dedupe: with a window or a compressor, replace a passage already sent
            earlier in the conversation by a one-line pointer (default True;
            system messages are left alone).
    """

    window: ConversationWindow | None = None
    compressor: ExtractiveCompressor | None = None
    ratio: float = 0.4
    min_tokens: int = 800
    roles: tuple[str, ...] = ("human", "tool")
    dedupe: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ConfigError(f"ratio must be in (0, 1]; got {self.ratio!r}.")
        if self.min_tokens < 1:
            raise ConfigError(f"min_tokens must be >= 1; got {self.min_tokens!r}.")

    @property
    def active(self) -> bool:
        return self.window is not None or self.compressor is not None

    def prepare(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        session: str | None = None,
    ) -> list[BaseMessage]:
        """The messages to send; the caller's list and messages are never changed.

        A session over its budget raises :class:`BudgetExceededError`; any other failure
        of the stage (an embedder that cannot load…) sends the messages as they are,
        with a warning, rather than failing the call.
        """
        out = list(messages)
        try:
            if self.window is not None:
                out = apply_window(self.window, out, tools=tools, session=session)[0]
            if self.dedupe:
                out = self._dedupe(out)
            if self.compressor is not None:
                out = self._compress(out)
        except BudgetExceededError:
            raise
        except Exception as exc:
            log.warning(
                "tokenomy: context stage failed (%r); sending the messages as they are.", exc
            )
            return list(messages)
        return out

    def _dedupe(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        source = self.window or self.compressor
        model = (source.counter.model if source is not None else None) or DEFAULT_MODEL
        texts = [
            m.content if isinstance(m.content, str) and m.type != "system" else None
            for m in messages
        ]
        new = drop_repeated_passages(texts, model=model)
        return [
            m if text is None else m.model_copy(update={"content": text})
            for m, text in zip(messages, new, strict=True)
        ]

    def _compress(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        assert self.compressor is not None
        counter = self.compressor.counter
        last_human = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1
        )
        content = messages[last_human].content if last_human >= 0 else None
        question = trailing_question(content) if isinstance(content, str) else None
        out = []
        for i, message in enumerate(messages):
            text = message.content
            if (
                message.type in self.roles
                and isinstance(text, str)
                and counter.count(text) >= self.min_tokens
            ):
                # the last human message holds its own question; others are read for it
                query = None if i == last_human else question
                result = compress_message(self.compressor, text, ratio=self.ratio, query=query)
                if result is not None:
                    message = message.model_copy(update={"content": result.text})
            out.append(message)
        return out
