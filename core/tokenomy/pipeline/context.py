"""The context stage: a conversation window, de-duplication, then compression.

It works on OpenAI-style messages and reports, for each message it sends, which
of the caller's messages it comes from, so a front door can send its own message
objects (only the shortened ones copied) instead of rebuilding them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokenomy.compress import DEFAULT_MIN_TOKENS, DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.compress.message import compress_message
from tokenomy.context import ConversationWindow
from tokenomy.context.dedupe import drop_repeated_passages
from tokenomy.context.window import SUMMARY_PREFIX
from tokenomy.errors import ConfigError
from tokenomy.text.messages import trailing_question
from tokenomy.tokens.counter import DEFAULT_MODEL

__all__ = ["ContextStage", "Prepared"]


Message = Mapping[str, Any]


@dataclass(frozen=True)
class Prepared:
    """The messages to send, where each comes from, and the tokens saved."""

    messages: tuple[Message, ...]
    origins: tuple[int | None, ...]
    saved_tokens: int = 0
    detail: str = ""


@dataclass(frozen=True)
class ContextStage:
    """What runs on the messages before the model: a window, then compression.

    Args:
        window: fits the history to a budget (None: no window).
        compressor: compresses long messages (None: no compression).
        ratio: share of a long message's tokens to keep, in (0, 1] (default 0.4).
        min_tokens: messages shorter than this are sent as they are (default 800).
        roles: roles compressed (default user and tool messages; system prompts are
            instructions and are never compressed).
        dedupe: with a window or a compressor, replace a passage already sent
            earlier in the conversation by a one-line pointer (default True).

    Example:
        >>> ContextStage().prepare([{"role": "user", "content": "hi"}]).origins
        (0,)
    """

    window: ConversationWindow | None = None
    compressor: ExtractiveCompressor | None = None
    ratio: float = DEFAULT_RATIO
    min_tokens: int = DEFAULT_MIN_TOKENS
    roles: tuple[str, ...] = ("user", "tool")
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
        messages: Sequence[Message],
        *,
        tools: Sequence[Message] | None = None,
        session: str | None = None,
        pinned: Sequence[int] = (),
        reserve_tokens: int = 0,
    ) -> Prepared:
        """The messages to send; the caller's messages are never changed.

        ``reserve_tokens`` come off the window's budget (a prefix the caller adds).

        Raises whatever the window or the compressor raises (the pipeline skips
        the stage then); a session over its budget raises
        :class:`~tokenomy.errors.BudgetExceededError`.
        """
        out: list[Message] = list(messages)
        origins: list[int | None] = list(range(len(out)))
        saved, notes = 0, []
        if not self.active:
            return Prepared(tuple(out), tuple(origins))
        if self.window is not None:
            result = self.window.fit(
                out, tools=tools, pinned=pinned, session=session, reserve_tokens=reserve_tokens
            )
            if result.evicted:
                out = [out[i] for i in result.kept]
                origins = list(result.kept)
                if result.summary is not None and result.summary_position is not None:
                    summary = {"role": "system", "content": SUMMARY_PREFIX + result.summary}
                    out.insert(result.summary_position, summary)
                    origins.insert(result.summary_position, None)
                saved += max(0, result.original_tokens - result.sent_tokens)
                notes.append(f"window kept {len(result.kept)} of {len(messages)} messages")
        if self.dedupe:
            out = self._dedupe(out)
        if self.compressor is not None:
            out, removed = self._compress(out)
            if removed:
                saved += removed
                notes.append(f"compression removed {removed} tokens")
        return Prepared(tuple(out), tuple(origins), saved, "; ".join(notes))

    def _dedupe(self, messages: list[Message]) -> list[Message]:
        source = self.window or self.compressor
        model = (source.counter.model if source is not None else None) or DEFAULT_MODEL
        texts = [
            m.get("content")
            if isinstance(m.get("content"), str) and m.get("role") != "system"
            else None
            for m in messages
        ]
        new = drop_repeated_passages(texts, model=model)
        return [
            m if text is None or text == m.get("content") else {**m, "content": text}
            for m, text in zip(messages, new, strict=True)
        ]

    def _compress(self, messages: list[Message]) -> tuple[list[Message], int]:
        assert self.compressor is not None
        counter = self.compressor.counter
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        content = messages[last_user].get("content") if last_user >= 0 else None
        question = trailing_question(content) if isinstance(content, str) else None
        out, removed = [], 0
        for i, message in enumerate(messages):
            text = message.get("content")
            if (
                message.get("role") in self.roles
                and isinstance(text, str)
                and counter.count(text) >= self.min_tokens
            ):
                # the last user message holds its own question; others are read for it
                query = None if i == last_user else question
                result = compress_message(self.compressor, text, ratio=self.ratio, query=query)
                if result is not None:
                    removed += max(0, result.original_tokens - result.compressed_tokens)
                    message = {**message, "content": result.text}
            out.append(message)
        return out, removed
