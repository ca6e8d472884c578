"""Few-shot example selection under a token budget.

The pool's examples are embedded once (through a cache that can persist on disk,
keyed by model and text) and indexed (a numpy scan, HNSW past 20,000 examples).
For an input, the ``candidates`` nearest examples are handed to a strategy
(:mod:`tokenomy.select.strategies`) that picks what to show within ``max_tokens``
(each example costed as it will be formatted, with the target model's tokenizer)
and ``max_examples``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import ConfigError
from tokenomy.select.strategies import Candidates, get_strategy
from tokenomy.text.words import words
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.embed import Embedder
    from tokenomy.embed.vectors import VectorGroup
    from tokenomy.select.compress import ExampleCompression

__all__ = [
    "DEFAULT_LEXICAL_WEIGHT",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_STRATEGY",
    "ExampleSelector",
    "Selection",
    "format_example",
]

DEFAULT_MAX_TOKENS: Final = 400
"""Budget for all chosen examples, tokens (``select.max_tokens``)."""
DEFAULT_STRATEGY: Final = "diverse_minimal"
"""Selection strategy, by name (the seed's EXAMPLE_SELECTION; ``select.strategy``)."""
DEFAULT_LEXICAL_WEIGHT: Final = 0.5
"""Weight of shared rare words, added to the cosine similarity (``select.lexical_weight``)."""

_SEPARATOR_TOKENS = 1  # the blank line between two examples


def format_example(example: Mapping[str, Any]) -> str:
    """The default rendering: one ``key: value`` line per field."""
    return "\n".join(f"{k}: {v}" for k, v in example.items())


@dataclass(frozen=True)
class Selection:
    """The examples chosen for one input.

    Attributes:
        examples: the chosen examples, best first.
        indices: their positions in the pool.
        tokens: what they add to the prompt (formatted, separators included).
        relevance: each one's cosine similarity to the input.
        strategy: the strategy's name.
        note: why the selection is empty or short, when it is.
    """

    examples: tuple[Mapping[str, Any], ...]
    indices: tuple[int, ...]
    tokens: int
    relevance: tuple[float, ...]
    strategy: str
    note: str | None = None

    def __len__(self) -> int:
        return len(self.examples)


class ExampleSelector:
    """Chooses the few-shot examples that help most per token, within a budget.

    Args:
        examples: the pool (dicts of fields); more with :meth:`add_example`.
        input_keys: the fields compared with the input (default: every field but
            ``label_key``); an input must carry them.
        label_key: the field holding an example's label or category, if any
            (used for label coverage).
        formatter: renders an example as the prompt shows it, to cost it in tokens:
            a ``str.format`` template (``"Q: {question}\\nA: {answer}"``) or a
            function (default: ``key: value`` lines).
        max_tokens: budget for all chosen examples (default 400; None: no limit).
        max_examples: at most this many (default None).
        strategy: ``"diverse_minimal"`` (default), ``"relevance"``, ``"mmr"``,
            ``"random"``; see :mod:`tokenomy.select.strategies`.
        duplicate: cosine similarity at which two examples count as one (0.95).
        candidates: nearest examples a strategy chooses from (default 64).
        lexical_weight: weight of the IDF-weighted share of the input's words an
            example shares, added to the cosine similarity (default 0.5; 0: the
            embedding alone). Question words and rare terms are strong cues that
            sentence embeddings blur.
        model: the target model, whose tokenizer costs the examples.
        embedder: embeds examples and inputs (default: the bundled MiniLM, cached;
            pass ``CachedEmbedder(..., directory=...)`` to keep the pool's vectors).
        compress: an :class:`~tokenomy.select.ExampleCompression` shortening each
            example's long fields (a passage, a document) once, as it joins the pool,
            keeping the evidence for its own answer (default None: shown whole).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> pool = [{"text": "great film, loved it", "label": "positive"},
        ...         {"text": "dull and far too long", "label": "negative"},
        ...         {"text": "a great cast and a great story", "label": "positive"}]
        >>> s = ExampleSelector(pool, label_key="label", max_tokens=20,
        ...                     embedder=HashingEmbedder())
        >>> [e["text"] for e in s.select({"text": "loved it, a great film"}).examples]
        ['great film, loved it']
    """

    def __init__(
        self,
        examples: Sequence[Mapping[str, Any]] = (),
        *,
        input_keys: Sequence[str] | None = None,
        label_key: str | None = None,
        formatter: str | Callable[[Mapping[str, Any]], str] | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        max_examples: int | None = None,
        strategy: str = DEFAULT_STRATEGY,
        duplicate: float = 0.95,
        candidates: int = 64,
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
        model: str = DEFAULT_MODEL,
        embedder: Embedder | None = None,
        compress: ExampleCompression | None = None,
    ) -> None:
        for name, value in (("max_tokens", max_tokens), ("max_examples", max_examples)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be an int >= 1 or None; got {value!r}.")
        if not 0.0 < duplicate <= 1.0:
            raise ConfigError(f"duplicate is a cosine similarity in (0, 1]; got {duplicate!r}.")
        get_strategy(strategy)  # fail early on an unknown name
        self.input_keys = list(input_keys) if input_keys is not None else None
        self.label_key = label_key
        self.max_tokens = max_tokens
        self.max_examples = max_examples
        self.strategy = strategy
        self.duplicate = duplicate
        self.candidates = candidates
        self.lexical_weight = lexical_weight
        self._words: list[frozenset[str]] = []
        self._df: Counter[str] = Counter()
        self.counter = TokenCounter(model)
        self._format = _formatter(formatter)
        self._embedder = embedder
        self.compress = compress
        self._examples: list[Mapping[str, Any]] = []
        self._costs: list[int] = []
        self._pending: list[int] = []  # added but not embedded yet
        self._vectors: np.ndarray | None = None
        self._index: VectorGroup | None = None
        self._lock = threading.RLock()
        for example in examples:
            self.add_example(example)

    embedder = EmbedderOrDefault()

    @property
    def examples(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self._examples)

    def __len__(self) -> int:
        return len(self._examples)

    # -- the pool -------------------------------------------------------------------

    def add_example(self, example: Mapping[str, Any]) -> None:
        """Add one example (a dict of fields); it is embedded on the next selection."""
        if not isinstance(example, Mapping):
            raise ConfigError(f"an example is a dict of fields; got {type(example).__name__}.")
        keys = self._keys(example)
        missing = [k for k in keys if k not in example]
        if self.label_key is not None and self.label_key not in example:
            missing.append(self.label_key)
        if missing:
            needed = sorted({*keys, *([self.label_key] if self.label_key else [])})
            raise ConfigError(
                f"example {len(self._examples)} ({dict(example)!r:.80}) is missing "
                f"{missing}; every example needs {needed}."
            )
        try:
            cost = self.cost(example)
        except KeyError as exc:
            raise ConfigError(
                f"the formatter needs field {exc} that example {len(self._examples)} lacks."
            ) from None
        if self.compress is not None:
            example = self.compress.apply(example)
            cost = self.cost(example)
        terms = frozenset(words(self._text(example)))
        with self._lock:
            self._examples.append(dict(example))
            self._costs.append(cost)
            self._words.append(terms)
            self._df.update(terms)
            self._pending.append(len(self._examples) - 1)

    def format(self, example: Mapping[str, Any]) -> str:
        """An example as the prompt shows it (the formatter used to cost it)."""
        return self._format(example)

    def cost(self, example: Mapping[str, Any]) -> int:
        """Tokens an example adds to the prompt: formatted, plus the separator."""
        return self.counter.count(self._format(example)) + _SEPARATOR_TOKENS

    def _keys(self, example: Mapping[str, Any]) -> list[str]:
        if self.input_keys is not None:
            return self.input_keys
        return [k for k in example if k != self.label_key]

    def _text(self, example: Mapping[str, Any]) -> str:
        return " ".join(str(example[k]) for k in self._keys(example) if k in example)

    def _embed_pending(self) -> None:
        import numpy as np

        from tokenomy.embed.vectors import VectorGroup

        with self._lock:
            if not self._pending:
                return
            pending = list(self._pending)
            vectors = self.embedder.embed([self._text(self._examples[i]) for i in pending])
            vectors = np.asarray(vectors, dtype=np.float32)
            if self._index is None:
                self._index = VectorGroup(vectors.shape[1])
            self._index.add_many([str(i) for i in pending], vectors)
            self._vectors = (
                vectors if self._vectors is None else np.vstack([self._vectors, vectors])
            )
            self._pending.clear()

    # -- selection --------------------------------------------------------------------

    def select(self, query: Mapping[str, Any] | str, *, max_tokens: int | None = None) -> Selection:
        """The examples to show for ``query`` (the input's fields, or its text).

        ``max_tokens`` overrides the selector's budget for this call.

        Raises:
            ConfigError: the input lacks one of ``input_keys``.
        """
        text = self._query_text(query)
        if not self._examples:
            return Selection((), (), 0, (), self.strategy, "the pool is empty")
        self._embed_pending()
        vector = self.embedder.embed([text])[0]
        return self.select_by_vector(vector, max_tokens=max_tokens, text=text)

    async def aselect(
        self, query: Mapping[str, Any] | str, *, max_tokens: int | None = None
    ) -> Selection:
        """:meth:`select` in a worker thread (embedding is CPU-bound)."""
        return await asyncio.to_thread(self.select, query, max_tokens=max_tokens)

    def select_by_vector(
        self, vector: np.ndarray, *, max_tokens: int | None = None, text: str | None = None
    ) -> Selection:
        """:meth:`select` for an input already embedded (unit vector); ``text`` is the
        input's text, for the lexical part of relevance."""
        import numpy as np

        self._embed_pending()
        with self._lock:
            assert self._index is not None and self._vectors is not None
            budget = max_tokens or self.max_tokens or sum(self._costs)
            smallest = min(self._costs)
            if smallest > budget:
                note = (
                    f"no example fits in max_tokens={budget} (the smallest takes "
                    f"{smallest} tokens); raise max_tokens"
                )
                return Selection((), (), 0, (), self.strategy, note)
            if self.strategy == "random":
                rng = np.random.default_rng(zlib.crc32(vector.tobytes()))  # seeded by the input
                rows = [int(r) for r in rng.permutation(len(self._examples))[: self.candidates]]
            else:
                rows = [int(i) for i, _ in self._index.search(vector, self.candidates)]
            vecs = self._vectors[rows]
            relevance = vecs @ vector.astype(np.float32)
            if self.lexical_weight and text:
                relevance = relevance + self.lexical_weight * self._overlap(text, rows)
            cands = Candidates(
                relevance=relevance,
                vectors=vecs,
                costs=[self._costs[r] for r in rows],
                labels=[self._examples[r][self.label_key] for r in rows]
                if self.label_key
                else None,
                budget=budget,
                max_examples=self.max_examples,
                duplicate=self.duplicate,
            )
            chosen = get_strategy(self.strategy)(cands)
            picked = [rows[p] for p in chosen]
            return Selection(
                tuple(self._examples[r] for r in picked),
                tuple(picked),
                sum(self._costs[r] for r in picked),
                tuple(float(relevance[p]) for p in chosen),
                self.strategy,
            )

    def _overlap(self, text: str, rows: list[int]) -> np.ndarray:
        """IDF-weighted share of the input's words each candidate shares, in [0, 1]."""
        import numpy as np

        n = len(self._examples)
        terms = set(words(text))
        idf = {w: math.log((n + 1) / (self._df.get(w, 0) + 1)) + 1.0 for w in terms}
        total = sum(idf.values()) or 1.0
        return np.array(
            [sum(idf[w] for w in terms & self._words[r]) / total for r in rows], dtype=np.float32
        )

    def _query_text(self, query: Mapping[str, Any] | str) -> str:
        if isinstance(query, str):
            return query
        if not isinstance(query, Mapping):
            raise ConfigError(f"select() takes the input's fields or its text; got {query!r:.60}.")
        if self.input_keys is None:
            return " ".join(str(v) for k, v in query.items() if k != self.label_key)
        missing = [k for k in self.input_keys if k not in query]
        if missing:
            raise ConfigError(
                f"the input lacks {missing}: the selector compares inputs on "
                f"{self.input_keys}, and the input has {sorted(query)}; pass "
                "input_keys=[...] naming the prompt's variables."
            )
        return " ".join(str(query[k]) for k in self.input_keys)


def _formatter(
    formatter: str | Callable[[Mapping[str, Any]], str] | None,
) -> Callable[[Mapping[str, Any]], str]:
    if formatter is None:
        return format_example
    if isinstance(formatter, str):
        template = formatter
        return lambda example: template.format(**example)
    if callable(formatter):
        return formatter
    raise ConfigError(f"formatter must be a template string or a function; got {formatter!r}.")
