"""Extractive, query-aware compression to a ratio or a token budget.

The context is cut into segments (sentences; code, JSON, tables and list items
whole), each segment is scored (see :mod:`tokenomy.compress.scoring`), and the best
segments are kept, in their original order, until the budget is met. Near-duplicate
segments are kept once. The budget is counted with the target model's tokenizer
and never exceeded; the room whole segments leave under it is filled with the start
of the next best sentence, so the kept text lands a few tokens under it.

To stay fast on a CPU, only the segments that could plausibly be kept are
embedded: each document's lead is embedded first (a cheap document relevance), a
pre-ranking by query words and lead relevance then picks a fifth of the tokens (or
the budget's share, when more), each sentence is embedded after the end of the one
before it (see :mod:`tokenomy.compress._embedding`), and embeddings are cached, so a
passage retrieved again is not embedded again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tokenomy.compress._embedding import CONTEXT_CHARS, embed_sorted, in_context
from tokenomy.compress._features import document_coverage, neighbours, query_entities
from tokenomy.compress.result import CompressionResult, DroppedSegment, DropReason
from tokenomy.compress.scoring import (
    Weights,
    answer_type_bonus,
    idf,
    information,
    lexical_coverage,
    normalize,
    query_terms,
)
from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import ConfigError
from tokenomy.text.cut import cut_to_tokens, longest_prefix
from tokenomy.text.segment import Granularity, Segment, segment_documents
from tokenomy.text.words import words
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    from tokenomy.embed import Embedder

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_RATIO",
    "DEFAULT_REDUNDANCY",
    "ExtractiveCompressor",
    "check_target",
]

DEFAULT_RATIO: Final = 0.4
"""Share of a context's tokens kept when a front door is given no target of its own (the
seed's COMPRESSION_RATIO; setting ``compression.ratio``)."""
DEFAULT_REDUNDANCY: Final = 0.92
"""Cosine similarity above which a segment repeats one already kept (``compression.redundancy``)."""
DEFAULT_GRANULARITY: Final[Granularity] = "sentence"
"""Unit kept or dropped (``compression.granularity``)."""

EMBED_SHARE = 0.2
"""Share of a context's tokens embedded (the lexically best segments), or the budget's
share when that is more. MiniLM embeds ~3,400 word pieces/s on one CPU thread, so
embedding everything would cap throughput there; the rest is ranked by lexical and
document relevance. On 300 NaturalQuestions tuning questions (benchmarks/compress_nq.py),
0.2 and the budget's share kept answers within one question of 0.25 and 1.5x the
budget's share at every ratio, for 20% fewer embedded word pieces."""
_MIN_EMBED_TOKENS = 400
_MIN_EMBEDDED = 8
_EMBED_CHARS = 240  # long segments are embedded by their first ~50 tokens
_LEAD_WORDS = 8
_UNEMBEDDED_RELEVANCE = 0.3
"""Relevance (on the embedded segments' [0, 1] scale) of a segment that was not
embedded: weak, so that strong document and lexical evidence can still carry it."""
_DOCUMENT_CHARS = 1_500
"""Characters of a document embedded whole with ``embed_documents`` (MiniLM reads 256
word pieces, about 1,000-1,200 characters of English; the rest need not be tokenized)."""
_MIN_FILL_TOKENS = 4  # room under the budget worth filling with part of a sentence
_MIN_FILL_WORDS = 3


@dataclass
class _Scored:
    segment: Segment
    index: int
    tokens: int
    score: float
    relevance: float
    words: set[str]
    vector: Any = None


class ExtractiveCompressor:
    """Keeps the most important segments of a context within a token budget.

    Args:
        model: the target model; budgets are counted with its tokenizer (default gpt-4o).
        embedder: embeds segments and the query (default: the bundled MiniLM, cached).
        granularity: ``"sentence"`` (default), ``"paragraph"`` or ``"document"``.
        redundancy: cosine similarity in [0, 1] above which a segment counts as a
            near-duplicate of one already kept (default :data:`DEFAULT_REDUNDANCY`, 0.92).
        weights: how relevance, information, position… add up.
        partial_fill: fill the room whole segments leave under the budget with the
            start of the next best sentence, cut at a word boundary (default True);
            code, JSON, tables and list items are never cut.
        embed_documents: also embed each whole document (its first ~250 tokens) and add
            its similarity to the query to its segments' scores (``whole_document``
            weight). Keeps more answers at ratios 0.2-0.1 but embeds every document:
            about 4x slower with a cold embedding cache (default False; measured in
            ``benchmarks/compress_nq.py``).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> c = ExtractiveCompressor(embedder=HashingEmbedder())
        >>> docs = ["Paris is the capital of France. It has 2.1 million people.",
        ...         "Bananas are yellow. They grow in the tropics."]
        >>> result = c.compress(docs, query="What is the capital of France?", max_tokens=8)
        >>> result.text
        'Paris is the capital of France.'
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        embedder: Embedder | None = None,
        granularity: Granularity = DEFAULT_GRANULARITY,
        redundancy: float = DEFAULT_REDUNDANCY,
        weights: Weights | None = None,
        partial_fill: bool = True,
        embed_documents: bool = False,
    ) -> None:
        if not 0.0 < redundancy <= 1.0:
            raise ConfigError(f"redundancy is a cosine similarity in (0, 1]; got {redundancy!r}.")
        self.model = model
        self.counter = TokenCounter(model)
        self._embedder = embedder
        self.granularity = granularity
        self.redundancy = redundancy
        self.weights = weights or Weights()
        self.partial_fill = partial_fill
        self.embed_documents = embed_documents

    embedder = EmbedderOrDefault()

    # -- public API -----------------------------------------------------------------

    def compress(
        self,
        context: str | Sequence[str],
        *,
        query: str | None = None,
        ratio: float | None = None,
        max_tokens: int | None = None,
        min_retention: float | None = None,
        protected: Sequence[str] = (),
    ) -> CompressionResult:
        """Compress ``context`` (a text or a list of documents) to a ratio or a budget.

        Args:
            context: the text, or the documents (kept separate in the result).
            query: what the context must answer; without it, central segments win.
            ratio: target share of the original tokens, in (0, 1].
            max_tokens: target budget in tokens (the smaller of the two wins).
            min_retention: keep more than the budget rather than let the retention
                estimate fall below this, in [0, 1]; the result says when it did.
            protected: substrings whose segments are always kept (instructions,
                the question…); they must fit in the budget.

        Raises:
            ConfigError: for a missing or invalid target, or protected segments
                that do not fit.
        """
        documents = [context] if isinstance(context, str) else list(context)
        if not all(isinstance(d, str) for d in documents):
            raise ConfigError("context must be a str or a list of str (one per document).")
        check_target(ratio, max_tokens, min_retention)
        original = self.counter.count("\n\n".join(documents))
        budget = _budget(original, ratio, max_tokens)
        if original <= budget:
            return CompressionResult(
                "\n\n".join(documents), tuple(documents), original, original, budget, 1.0
            )
        scored = self._score(documents, query, budget)
        must = _protected(scored, protected)
        result = self._select(documents, scored, must, budget, query, original)
        floor_applied = False
        while (
            min_retention is not None
            and result.retention < min_retention
            and result.budget_tokens < original
        ):
            budget = min(original, max(budget + 1, int(budget * 1.25)))
            result = self._select(documents, scored, must, budget, query, original)
            floor_applied = True
        if floor_applied:
            from dataclasses import replace

            result = replace(result, retention_floor_applied=True)
        return result

    async def acompress(self, context: str | Sequence[str], **kwargs: Any) -> CompressionResult:
        """:meth:`compress` in a worker thread (embedding is CPU-bound)."""
        return await asyncio.to_thread(self.compress, context, **kwargs)

    # -- scoring ---------------------------------------------------------------------------

    def _score(self, documents: list[str], query: str | None, budget: int) -> list[_Scored]:
        import numpy as np

        segments = segment_documents(documents, granularity=self.granularity)
        toks = [words(s.text) for s in segments]
        weights = idf(toks)
        top_idf = max(weights.values(), default=1.0)
        terms = query_terms(query) if query else []
        items = [
            _Scored(s, i, self.counter.count(s.text), 0.0, 0.0, set(toks[i]))
            for i, s in enumerate(segments)
        ]
        if not items:
            return items
        lex = np.array([lexical_coverage(it.words, terms, weights) for it in items])
        docs = np.array([it.segment.document for it in items])
        doc_lex = document_coverage(segments, [it.words for it in items], terms, weights)
        qvec, lead = self._lead_relevance(items, query)
        # embed the segments that look most promising, up to EMBED_SHARE of the tokens
        chosen = _promising(items, lex + 2.0 * lead + doc_lex, budget)
        texts = [in_context(segments, i, _EMBED_CHARS) for i in chosen]
        vectors = embed_sorted(self.embedder, texts)
        for i, vec in zip(chosen, vectors, strict=True):
            items[i].vector = vec
        if qvec is None:  # centrality: similarity to the centroid of the context
            centroid = vectors.mean(axis=0)
            qvec = centroid / (np.linalg.norm(centroid) or 1.0)
        sims = vectors @ qvec
        relevance = np.full(len(items), _UNEMBEDDED_RELEVANCE)
        relevance[chosen] = normalize(sims)
        doc_rel = lead.copy()
        for i, sim in zip(chosen, sims, strict=True):
            mask = docs == docs[i]
            doc_rel[mask] = np.maximum(doc_rel[mask], sim)
        w = self.weights
        score = (
            w.relevance * relevance
            + w.neighbour * neighbours(relevance, docs)
            + w.lexical * lex
            + w.document * doc_rel
            + w.document_lexical * doc_lex
            + w.lead * normalize(lead)
        )
        if self.embed_documents:  # whole documents (their first ~250 tokens) vs the query
            whole = embed_sorted(self.embedder, [d[:_DOCUMENT_CHARS] for d in documents])
            score = score + w.whole_document * normalize(whole @ qvec)[docs]
        entities = query_entities(query) if query else set()
        embedded = set(chosen)
        for i, it in enumerate(items):
            it.relevance = float(relevance[i]) if i in embedded else 0.0
            extra = w.information * information(toks[i], weights, top_idf)
            extra += w.position * it.segment.first
            if query:
                extra += w.answer_type * answer_type_bonus(query, it.segment.text)
                if entities and any(e in it.segment.text.lower() for e in entities):
                    extra += w.query_entity
            it.score = float(score[i]) + extra
        return items

    def _lead_relevance(self, items: list[_Scored], query: str | None) -> tuple[Any, Any]:
        """The query vector (None without a query) and, per segment, the similarity of
        its document's lead (title / first words) to the query: a cheap document
        relevance, as the lead of a passage usually names its subject."""
        import numpy as np

        leads: dict[int, str] = {}
        for it in items:
            leads.setdefault(it.segment.document, " ".join(it.segment.text.split()[:_LEAD_WORDS]))
        if not query:
            return None, np.zeros(len(items))
        vectors = embed_sorted(self.embedder, [query, *leads.values()])
        by_doc = dict(zip(leads, vectors[1:] @ vectors[0], strict=True))
        return vectors[0], np.array([by_doc[it.segment.document] for it in items])

    # -- selection ---------------------------------------------------------------------------

    def _select(
        self,
        documents: list[str],
        items: list[_Scored],
        must: set[int],
        budget: int,
        query: str | None,
        original: int,
    ) -> CompressionResult:
        order = sorted(range(len(items)), key=lambda i: -items[i].score)
        kept: set[int] = set()
        reasons: dict[int, DropReason] = {}
        used = 0
        for i in sorted(must, key=lambda i: -items[i].score):
            kept.add(i)
            used += items[i].tokens + 1
        if used > budget + 1:
            raise ConfigError(
                f"The protected segments need {used} tokens but the budget is {budget}; raise "
                "the budget (ratio / max_tokens) or protect fewer spans."
            )
        seen_text: set[str] = {items[i].segment.text.strip().lower() for i in kept}
        for i in order:
            if i in kept:
                continue
            it = items[i]
            key = it.segment.text.strip().lower()
            if key in seen_text:
                reasons[i] = "duplicate"
                continue
            if it.tokens + 1 > budget - used:
                reasons[i] = "over budget"
                continue
            if it.vector is not None and self._redundant(it, [items[k] for k in kept]):
                reasons[i] = "redundant"
                continue
            kept.add(i)
            seen_text.add(key)
            used += it.tokens + 1
        truncated = False
        texts = _assemble(documents, items, kept)
        count = self.counter.count("\n\n".join(t for t in texts if t))
        while count > budget and kept - must:  # joins can merge into extra tokens: trim
            worst = min(kept - must, key=lambda k: items[k].score)
            kept.discard(worst)
            reasons[worst] = "over budget"
            texts = _assemble(documents, items, kept)
            count = self.counter.count("\n\n".join(t for t in texts if t))
        partial: int | None = None
        if not kept and items and budget > 0:  # one segment larger than the whole budget
            best = order[0]
            texts, count = self._truncated(documents, items[best], budget)
            truncated = True
            reasons.pop(best, None)
        elif self.partial_fill and kept and budget - count >= _MIN_FILL_TOKENS:
            filled = self._fill(documents, items, kept, reasons, order, budget)
            if filled is not None:
                partial, texts, count = filled
        dropped = tuple(
            DroppedSegment(
                items[i].segment.document,
                items[i].segment.text,
                reasons.get(i, "low importance"),
                round(items[i].score, 4),
            )
            for i in range(len(items))
            if i not in kept and i != partial and not (truncated and i == order[0])
        )
        return CompressionResult(
            text="\n\n".join(t for t in texts if t),
            documents=tuple(texts),
            original_tokens=original,
            compressed_tokens=count,
            budget_tokens=budget,
            retention=_retention(items, kept, query),
            truncated=truncated,
            dropped=dropped,
        )

    def _redundant(self, item: _Scored, kept: list[_Scored]) -> bool:
        """Whether ``item`` nearly repeats a kept segment. A sentence is embedded with
        the end of the one before it (see ``in_context``), so the two vectors share
        words; next-door segments are not compared (verbatim repeats are caught by
        text before this)."""
        import numpy as np

        vectors = [k.vector for k in kept if k.vector is not None and abs(k.index - item.index) > 1]
        if not vectors:
            return False
        return float(np.max(np.stack(vectors) @ item.vector)) >= self.redundancy

    def _fill(
        self,
        documents: list[str],
        items: list[_Scored],
        kept: set[int],
        reasons: dict[int, DropReason],
        order: list[int],
        budget: int,
    ) -> tuple[int, list[str], int] | None:
        """The room left under the budget filled with the start of the best sentence
        that did not fit: ``(its index, texts, exact count)``, or None.

        Whole segments leave a gap of a few percent under the budget (one more would
        not fit); a word-boundary prefix of the next best sentence closes it. Only
        prose sentences are cut, never code, JSON, tables or list items, and a piece
        shorter than ``_MIN_FILL_WORDS`` words is not worth its tokens. The cut
        sentence is not listed in the result's ``dropped``.
        """
        best = next(
            (
                i
                for i in order
                if i not in kept
                and reasons.get(i) == "over budget"
                and items[i].segment.kind == "sentence"
            ),
            None,
        )
        if best is None:
            return None
        words_ = items[best].segment.text.split(" ")

        def counted(n: int) -> tuple[list[str], int]:
            texts = _assemble(documents, items, kept | {best}, {best: " ".join(words_[:n])})
            return texts, self.counter.count("\n\n".join(t for t in texts if t))

        # the longest prefix of words that keeps the whole within budget
        lo = longest_prefix(len(words_) - 1, lambda n: counted(n)[1] <= budget)
        if lo < _MIN_FILL_WORDS:
            return None
        texts, count = counted(lo)
        return best, texts, count

    def _truncated(self, documents: list[str], item: _Scored, budget: int) -> tuple[list[str], int]:
        """The best segment cut at a word boundary to fit ``budget``."""
        text = cut_to_tokens(item.segment.text, budget, self.counter)
        texts = ["" for _ in documents]
        texts[item.segment.document] = text
        return texts, self.counter.count(text)


def check_target(
    ratio: float | None, max_tokens: int | None, min_retention: float | None = None
) -> None:
    """Raise :class:`ConfigError` unless these are a valid target for
    :meth:`ExtractiveCompressor.compress`, so that a component taking them can fail at
    construction rather than on its first call.

    Example:
        >>> check_target(0.4, None)
        >>> check_target(None, None)
        Traceback (most recent call last):
        ...
        tokenomy.errors.ConfigError: Give a target: ratio=0.4 (share of the tokens) or max_tokens=N.
    """
    if ratio is None and max_tokens is None:
        raise ConfigError(
            f"Give a target: ratio={DEFAULT_RATIO} (share of the tokens) or max_tokens=N."
        )
    if ratio is not None and not 0.0 < ratio <= 1.0:
        raise ConfigError(f"ratio must be in (0, 1]; got {ratio!r}.")
    if max_tokens is not None and max_tokens < 0:
        raise ConfigError(f"max_tokens must be >= 0; got {max_tokens!r}.")
    if min_retention is not None and not 0.0 <= min_retention <= 1.0:
        raise ConfigError(f"min_retention must be in [0, 1]; got {min_retention!r}.")


def _budget(original: int, ratio: float | None, max_tokens: int | None) -> int:
    """The smaller of the two targets, in tokens (:func:`check_target` has checked them)."""
    budgets = [int(original * ratio)] if ratio is not None else []
    if max_tokens is not None:
        budgets.append(max_tokens)
    return min(budgets)


def _promising(items: list[_Scored], pre: Any, budget: int) -> list[int]:
    """The segments worth embedding, best ``pre`` score first, up to EMBED_SHARE of
    the tokens (or the budget's share when that is more). A segment counts for the
    tokens actually embedded: its first ``_EMBED_CHARS`` characters, and the end of
    the sentence before it."""
    total = sum(it.tokens for it in items)
    share = max(EMBED_SHARE, budget / total) if total else 1.0
    cap = max(_MIN_EMBED_TOKENS, int(share * total))
    chosen: list[int] = []
    spent = 0
    for i in sorted(range(len(items)), key=lambda i: -pre[i]):
        if spent >= cap and len(chosen) >= _MIN_EMBEDDED:
            break
        chosen.append(i)
        spent += min(items[i].tokens, _EMBED_CHARS // 5)
        spent += 0 if items[i].segment.first else CONTEXT_CHARS // 5
    return chosen


def _protected(items: list[_Scored], protected: Sequence[str]) -> set[int]:
    return {i for i, it in enumerate(items) for p in protected if p and p in it.segment.text}


def _assemble(
    documents: list[str],
    items: list[_Scored],
    kept: set[int],
    override: dict[int, str] | None = None,
) -> list[str]:
    """Kept segments per document, in order; a paragraph break between paragraphs.
    ``override`` replaces the text of some segments (a sentence cut short)."""
    parts: list[list[str]] = [[] for _ in documents]
    last_para: dict[int, int] = {}
    for i in sorted(kept):
        seg = items[i].segment
        sep = (
            ""
            if not parts[seg.document]
            else (
                " "
                if last_para.get(seg.document) == seg.paragraph and seg.kind == "sentence"
                else "\n"
            )
        )
        text = override.get(i, seg.text) if override else seg.text
        parts[seg.document].append(sep + text)
        last_para[seg.document] = seg.paragraph
    return ["".join(p) for p in parts]


def _retention(items: list[_Scored], kept: set[int], query: str | None) -> float:
    """Share of relevance mass kept, averaged with the share of query concepts kept."""
    import numpy as np

    if not items:
        return 1.0
    rel = np.array([it.relevance for it in items])
    floor = float(np.median(rel))
    mass = np.maximum(rel - floor, 0.0) * np.array([it.tokens for it in items])
    total = float(mass.sum())
    kept_mass = float(sum(mass[i] for i in kept)) / total if total > 0 else 1.0
    if not query:
        return kept_mass
    terms = [t for t in query_terms(query) if any(t in it.words for it in items)]
    if not terms:
        return kept_mass
    kept_words = set().union(*(items[i].words for i in kept)) if kept else set()
    concepts = sum(t in kept_words for t in terms) / len(terms)
    return 0.5 * kept_mass + 0.5 * concepts
