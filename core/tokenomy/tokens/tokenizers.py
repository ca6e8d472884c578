"""Tokenizers: exact ones (tiktoken, Hugging Face ``tokenizer.json``, any callable)
and a calibrated approximation for models whose tokenizer is not available locally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tokenomy.errors import ConfigError, TokenizerError

__all__ = [
    "ApproximateTokenizer",
    "CallableTokenizer",
    "HuggingFaceTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
]


@runtime_checkable
class Tokenizer(Protocol):
    """Counts the tokens of a text for one vocabulary.

    Attributes:
        name: a label for reports, e.g. ``"o200k_base"``.
        exact: True when counts equal what the provider bills for the text.
    """

    name: str
    exact: bool

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (0 only for the empty string)."""
        ...


class TiktokenTokenizer:
    """Exact counts with a ``tiktoken.Encoding``.

    Special-token strings such as ``<|endoftext|>`` inside user text are counted as
    ordinary text, which is how the OpenAI API treats message content.
    """

    __slots__ = ("_encode", "encoding", "exact", "name")

    def __init__(self, encoding: Any, *, name: str | None = None) -> None:
        self.encoding = encoding
        self.name = name or str(encoding.name)
        self.exact = True
        self._encode: Callable[[str], list[int]] = encoding.encode_ordinary

    def count(self, text: str) -> int:
        return len(self._encode(text))


class HuggingFaceTokenizer:
    """Exact counts with a Hugging Face ``tokenizer.json`` file (``tokenizers`` package).

    Example:
        >>> tok = HuggingFaceTokenizer("path/to/tokenizer.json")  # doctest: +SKIP
        >>> tok.count("hello world")  # doctest: +SKIP
        2
    """

    __slots__ = ("_tok", "exact", "name")

    def __init__(self, path: str | Path, *, name: str | None = None) -> None:
        from tokenomy._optional import require

        tokenizers = require("tokenizers", feature="a Hugging Face tokenizer.json", extra="local")
        p = Path(path)
        if not p.is_file():
            raise TokenizerError(
                f"Tokenizer file {str(p)!r} does not exist. Pass the path of a Hugging Face "
                "tokenizer.json file (the one a model repository ships)."
            )
        try:
            self._tok = tokenizers.Tokenizer.from_file(str(p))
        except Exception as exc:  # the tokenizers library raises a bare Exception
            raise TokenizerError(
                f"Could not load {str(p)!r} as a Hugging Face tokenizer.json: {exc}"
            ) from exc
        self.name = name or p.parent.name or p.name
        self.exact = True

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


class CallableTokenizer:
    """Wraps any ``str -> int`` counter or ``str -> Sequence`` encoder.

    Args:
        fn: returns either the token count or the token ids/pieces of a text.
        name: a label for reports.
        exact: whether the callable gives the provider's real count (default True).
    """

    __slots__ = ("_fn", "exact", "name")

    def __init__(
        self, fn: Callable[[str], int | Sequence[Any]], *, name: str, exact: bool = True
    ) -> None:
        if not callable(fn):
            raise ConfigError(
                f"A tokenizer must be callable (str -> int or str -> token list); got "
                f"{type(fn).__name__}."
            )
        self._fn = fn
        self.name = name
        self.exact = exact

    def count(self, text: str) -> int:
        out = self._fn(text)
        n = out if isinstance(out, int) else len(out)
        if n < 0:
            raise TokenizerError(f"Tokenizer {self.name!r} returned a negative count ({n}).")
        return n


class ApproximateTokenizer:
    """Estimates another vocabulary's count as ``ceil(base_count * factor)``.

    Used for models whose tokenizer is not available locally (Claude, Gemini, …).
    ``factor`` is the ratio of the target tokenizer's count to the base
    tokenizer's count, fitted on a text corpus (see ``benchmarks/tokens_approx.py``).
    The result is never 0 for a non-empty text.
    """

    __slots__ = ("_base", "exact", "factor", "name")

    def __init__(self, base: Tokenizer, *, factor: float, name: str) -> None:
        if not factor > 0:
            raise ConfigError(f"factor must be > 0, got {factor!r}.")
        self._base = base
        self.factor = factor
        self.name = name
        self.exact = False

    def count(self, text: str) -> int:
        if not text:
            return 0
        n = self._base.count(text) * self.factor
        return max(1, int(n + 0.999999))
