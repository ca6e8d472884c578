"""Example compression: shorten each demonstration's long fields once, as it joins the pool.

A few-shot example often carries a long field (a passage, a document, a log) of which
its answer needs a sentence or two. Each long field is compressed extractively, with
the example's other fields (its question and its answer) as the query; a field that
quotes another field's value (the answer span) and would lose it is left whole, so a
demonstration keeps the evidence for its own answer. The selector then costs, embeds
and shows the shortened example, and more demonstrations fit in a budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from tokenomy.errors import ConfigError

__all__ = [
    "DEFAULT_EXAMPLE_MIN_TOKENS",
    "DEFAULT_EXAMPLE_RATIO",
    "ExampleCompression",
    "FieldCompressor",
]

DEFAULT_EXAMPLE_RATIO: Final = 0.4
"""Share of a long field's tokens kept (the seed's EXAMPLE_COMPRESSION)."""
DEFAULT_EXAMPLE_MIN_TOKENS: Final = 60
"""Fields shorter than this are shown as they are."""


class _Counts(Protocol):
    def count(self, text: str) -> int: ...


class _Compressed(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def original_tokens(self) -> int: ...

    @property
    def compressed_tokens(self) -> int: ...


class FieldCompressor(Protocol):
    """What shortens a field: :class:`tokenomy.compress.ExtractiveCompressor` is one."""

    @property
    def counter(self) -> _Counts: ...

    def compress(self, context: str, *, query: str | None, ratio: float | None) -> _Compressed:
        """``context`` shortened to ``ratio`` of its tokens, keeping what ``query`` needs."""
        ...


@dataclass
class ExampleCompression:
    """Which fields of an example to shorten, and how far.

    Args:
        fields: the long fields to compress (``["context"]``); the others are the
            query, and stay as they are.
        ratio: share of a field's tokens to keep (default 0.4).
        min_tokens: fields with fewer tokens are left whole (default 60).
        compressor: what shortens a field: a
            :class:`~tokenomy.compress.ExtractiveCompressor` for the target model
            (``Settings().example_selector()`` builds one from ``select.compress_*``).

    Example:
        >>> from tokenomy.compress import ExtractiveCompressor
        >>> from tokenomy.embed import HashingEmbedder
        >>> compressor = ExtractiveCompressor(embedder=HashingEmbedder())
        >>> shorten = ExampleCompression(["context"], compressor, ratio=0.4, min_tokens=5)
        >>> example = {"context": "Paris is big and old. The capital of France is Paris. "
        ...            "It rains a lot there in autumn and the museums are full.",
        ...            "question": "What is the capital of France?", "answer": "Paris"}
        >>> shorten.apply(example)["context"]
        'The capital of France is Paris.'
    """

    fields: Sequence[str]
    compressor: FieldCompressor
    ratio: float = DEFAULT_EXAMPLE_RATIO
    min_tokens: int = DEFAULT_EXAMPLE_MIN_TOKENS
    saved_tokens: int = field(default=0, init=False)
    """Tokens taken out of the pool's fields so far."""
    compressed: int = field(default=0, init=False)
    """Fields shortened so far."""
    kept_whole: int = field(default=0, init=False)
    """Long fields left whole because shortening them lost another field's value."""

    def __post_init__(self) -> None:
        if isinstance(self.fields, str) or not self.fields:
            raise ConfigError(
                f"fields names the example fields to compress, as a list (['context']); "
                f"got {self.fields!r}."
            )
        if not 0.0 < self.ratio <= 1.0:
            raise ConfigError(
                f"ratio is a share of a field's tokens, in (0, 1]; got {self.ratio!r}."
            )
        if self.min_tokens < 1:
            raise ConfigError(f"min_tokens must be >= 1; got {self.min_tokens!r}.")

    def apply(self, example: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``example`` with its long fields shortened (the example itself is
        never changed). A field that quotes another field's value (its answer) is
        shortened to ``ratio``, or to twice it when that loses the answer (its sentence
        is long), or else left whole: a demonstration keeps the evidence for its answer."""
        compressor = self.compressor
        out = dict(example)
        others = [str(v) for k, v in example.items() if k not in self.fields and v is not None]
        query = " ".join(others)
        for name in self.fields:
            text = example.get(name)
            if not isinstance(text, str) or compressor.counter.count(text) < self.min_tokens:
                continue
            spans = [o for o in others if o and o in text]  # the answer span, quoted
            result = None
            for ratio in (self.ratio, min(1.0, 2 * self.ratio)):  # room for a long sentence
                tried = compressor.compress(text, query=query, ratio=ratio)
                if all(o in tried.text for o in spans):
                    result = tried
                    break
            if result is None:
                self.kept_whole += 1  # it would lose the evidence for its own answer
                continue
            if result.compressed_tokens < result.original_tokens:
                out[name] = result.text
                self.saved_tokens += result.original_tokens - result.compressed_tokens
                self.compressed += 1
        return out
