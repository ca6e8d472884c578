"""Summaries of evicted conversation turns: the protocol and two implementations.

:class:`ExtractiveSummarizer` (the default) is local and free: it keeps the
sentences of the evicted turns that matter most for the current question.
:class:`PromptSummarizer` asks any text-completion function (an LLM) for an
abstractive summary; the LangChain and LlamaIndex adapters build one from a chat
model or an LLM. Both return at most ``max_tokens`` tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tokenomy.errors import ConfigError
from tokenomy.text.cut import cut_to_tokens
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    from tokenomy.compress import ExtractiveCompressor
    from tokenomy.embed import Embedder

__all__ = ["ExtractiveSummarizer", "PromptSummarizer", "Summarizer", "cut_to_tokens"]

DEFAULT_PROMPT = (
    "Summarize the conversation below for the assistant who continues it. Keep every "
    "fact, number, name, decision and open request; drop greetings and filler. Write "
    "at most {max_words} words.\n\n{previous}{conversation}\n\nSummary:"
)


@runtime_checkable
class Summarizer(Protocol):
    """Turns evicted conversation turns into a shorter text.

    ``texts`` are the evicted messages, oldest first, each prefixed with its role
    (``"User: …"``). ``focus`` is the current question, which a summarizer may use
    to decide what to keep. The result must fit in ``max_tokens``.

    A summarizer whose ``incremental`` attribute is true is called only with the
    newly evicted turns and gets the previous summary as ``previous``; the window
    then reuses its summary while nothing new is evicted (an LLM is not called on
    every turn). Otherwise it is called with every evicted turn each time.
    """

    def summarize(
        self,
        texts: Sequence[str],
        *,
        max_tokens: int,
        focus: str | None = None,
        previous: str | None = None,
    ) -> str: ...


class ExtractiveSummarizer:
    """Keeps the evicted sentences most relevant to the current question (local, free).

    Not incremental: it re-selects from every evicted turn on each call, so a fact
    evicted long ago comes back when a later question needs it. Embeddings are
    cached, so this costs little after the first time.

    Args:
        model: counts tokens with this model's tokenizer.
        embedder: for relevance (default: the bundled MiniLM, cached).
    """

    incremental = False

    def __init__(self, *, model: str = DEFAULT_MODEL, embedder: Embedder | None = None) -> None:
        self.model = model
        self._embedder = embedder
        self._compressor: ExtractiveCompressor | None = None

    @property
    def compressor(self) -> ExtractiveCompressor:
        if self._compressor is None:
            from tokenomy.compress import ExtractiveCompressor

            self._compressor = ExtractiveCompressor(model=self.model, embedder=self._embedder)
        return self._compressor

    def summarize(
        self,
        texts: Sequence[str],
        *,
        max_tokens: int,
        focus: str | None = None,
        previous: str | None = None,
    ) -> str:
        documents = [t for t in ([previous] if previous else []) + list(texts) if t.strip()]
        if not documents or max_tokens <= 0:
            return ""
        result = self.compressor.compress(documents, query=focus, max_tokens=max_tokens)
        return "\n".join(d for d in result.documents if d)


class PromptSummarizer:
    """An abstractive summary from any ``complete(prompt) -> str`` function (an LLM).

    Incremental: the window calls it only when turns are newly evicted, with the
    previous summary, so an LLM summarizes each turn once. The answer is cut at a
    word boundary if the model writes more than ``max_tokens``.

    Args:
        complete: sends a prompt to a model and returns its text.
        model: counts tokens with this model's tokenizer.
        prompt: a template with ``{conversation}``, ``{previous}`` and ``{max_words}``.

    Example:
        >>> s = PromptSummarizer(lambda prompt: "Alice's dog is called Rex.")
        >>> s.summarize(["User: my dog is Rex", "Assistant: nice!"], max_tokens=20)
        "Alice's dog is called Rex."
    """

    incremental = True

    def __init__(
        self,
        complete: Callable[[str], str],
        *,
        model: str = DEFAULT_MODEL,
        prompt: str = DEFAULT_PROMPT,
    ) -> None:
        if not callable(complete):
            raise ConfigError("complete must be a function taking a prompt and returning text.")
        for field in ("{conversation}", "{previous}", "{max_words}"):
            if field not in prompt:
                raise ConfigError(f"the summary prompt must contain {field}; got {prompt!r}.")
        self._complete = complete
        self.counter = TokenCounter(model)
        self.prompt = prompt

    def summarize(
        self,
        texts: Sequence[str],
        *,
        max_tokens: int,
        focus: str | None = None,
        previous: str | None = None,
    ) -> str:
        if not any(t.strip() for t in texts) or max_tokens <= 0:
            return previous or ""
        prompt = self.prompt.format(
            conversation="\n".join(texts),
            previous=f"Summary so far:\n{previous}\n\nNew turns:\n" if previous else "",
            max_words=max(1, int(max_tokens * 0.7)),
        )
        answer = self._complete(prompt)
        if not isinstance(answer, str):
            raise ConfigError(
                f"the summarizer's complete() must return a str; got {type(answer).__name__}."
            )
        return cut_to_tokens(answer.strip(), max_tokens, self.counter)
