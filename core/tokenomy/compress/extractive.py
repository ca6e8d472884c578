"""Extractive, query-aware compression to a ratio or a token budget.

The context is cut into segments (sentences; code, JSON, tables and list items
whole), each segment is scored (see :mod:`tokenomy.compress.scoring`), and the best
segments are kept, in their original order, until the budget is met. Near-duplicate
segments are kept once. The budget is counted with the target model's tokenizer
and never exceeded; the kept text lands within a few tokens under it.

To stay fast on a CPU, only the segments that could plausibly be kept are
embedded: a lexical pre-ranking picks about four times as many segments as the
budget can hold (all of them for small contexts), and embeddings are cached, so a
passage retrieved again is not embedded again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenomy.compress.result import CompressionResult, DroppedSegment, DropReason
from tokenomy.compress.scoring import (
    Weights,
    answer_type_bonus,
    idf,
    information,
    lexical_coverage,
    normalize,
    query_terms,
    words,
)
from tokenomy.errors import ConfigError
from tokenomy.text.segment import Granularity, Segment, segment_documents
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    from tokenomy.embed import Embedder

__all__ = ["ExtractiveCompressor"]

EMBED_SHARE = 0.3
"""Share of a context's tokens embedded (the lexically best segments), or 1.5x the
budget's share when that is more. MiniLM embeds ~4,000 tokens/s on one CPU thread,
so embedding everything would cap throughput there; the rest is ranked by lexical
and document relevance."""
_MIN_EMBED_TOKENS = 400
_MIN_EMBEDDED = 8
_EMBED_CHARS = 240  # long segments are embedded by their first ~50 tokens
_LEAD_WORDS = 12
_NUMBERS = re.compile(r"\b\d[\d,.]*\b")
_NAMES = re.compile(r"\b[A-Z][a-zA-Z0-9]+(?:\s+[A-Z][a-zA-Z0-9]+)*")


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
            near-duplicate of one already kept (default 0.92).
        weights: how relevance, information, position… add up.

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
        granularity: Granularity = "sentence",
        redundancy: float = 0.92,
        weights: Weights | None = None,
    ) -> None:
        if not 0.0 < redundancy <= 1.0:
            raise ConfigError(f"redundancy is a cosine similarity in (0, 1]; got {redundancy!r}.")
        self.model = model
        self.counter = TokenCounter(model)
        self._embedder = embedder
        self.granularity = granularity
        self.redundancy = redundancy
        self.weights = weights or Weights()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from tokenomy.embed import default_embedder

            self._embedder = default_embedder()
        return self._embedder

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
        original = self.counter.count("\n\n".join(documents))
        budget = _budget(original, ratio, max_tokens)
        if min_retention is not None and not 0.0 <= min_retention <= 1.0:
            raise ConfigError(f"min_retention must be in [0, 1]; got {min_retention!r}.")
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
        doc_lex: dict[int, float] = {}
        for it, value in zip(items, lex, strict=True):
            doc_lex[it.segment.document] = max(doc_lex.get(it.segment.document, 0.0), value)
        # 1. the query and each document's lead (title / first words): cheap document relevance
        leads: dict[int, str] = {}
        for it in items:
            leads.setdefault(it.segment.document, " ".join(it.segment.text.split()[:_LEAD_WORDS]))
        lead_docs = list(leads)
        first = self.embedder.embed(([query] if query else []) + [leads[d] for d in lead_docs])
        qvec = first[0] if query else None
        lead_rel = dict.fromkeys(lead_docs, 0.0)
        if qvec is not None:
            lead_rel = {d: float(v @ qvec) for d, v in zip(lead_docs, first[1:], strict=True)}
        # 2. embed the segments that look most promising, up to EMBED_SHARE of the tokens
        total = sum(it.tokens for it in items)
        share = max(EMBED_SHARE, 1.5 * budget / total) if total else 1.0
        cap = max(_MIN_EMBED_TOKENS, int(share * total))
        pre = (
            lex
            + 0.5 * np.array([doc_lex[it.segment.document] for it in items])
            + 0.8 * np.array([lead_rel[it.segment.document] for it in items])
        )
        chosen: list[int] = []
        spent = 0
        for i in sorted(range(len(items)), key=lambda i: -pre[i]):
            if spent >= cap and len(chosen) >= _MIN_EMBEDDED:
                break
            chosen.append(i)
            spent += min(items[i].tokens, _EMBED_CHARS // 5)
        texts = [items[i].segment.text[:_EMBED_CHARS] for i in chosen]
        vectors = self.embedder.embed(texts)
        for i, vec in zip(chosen, vectors, strict=True):
            items[i].vector = vec
        if qvec is not None:
            sims = vectors @ qvec
        else:  # centrality: similarity to the centroid of the context
            centroid = vectors.mean(axis=0)
            sims = vectors @ (centroid / (np.linalg.norm(centroid) or 1.0))
        relevance = np.zeros(len(items))
        relevance[chosen] = sims
        doc_rel: dict[int, float] = dict(lead_rel)
        for i in chosen:
            d = items[i].segment.document
            doc_rel[d] = max(doc_rel.get(d, 0.0), float(relevance[i]))
        rel_n = normalize(relevance)
        w = self.weights
        entities = _query_entities(query) if query else set()
        embedded = set(chosen)
        for i, it in enumerate(items):
            it.relevance = float(rel_n[i]) if i in embedded else 0.0
            score = w.relevance * it.relevance + w.lexical * float(lex[i])
            score += w.document * doc_rel.get(it.segment.document, 0.0)
            score += w.information * information(toks[i], weights, top_idf)
            score += w.position * it.segment.first
            if query:
                score += w.answer_type * answer_type_bonus(query, it.segment.text)
                if entities and any(e in it.segment.text.lower() for e in entities):
                    score += w.query_entity
            if i not in embedded:  # ranked after every embedded one, by document and words
                score = -1.0 + 0.6 * doc_rel.get(it.segment.document, 0.0) + 0.4 * float(lex[i])
            it.score = score
        return items

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
        if not kept and items and budget > 0:  # one segment larger than the whole budget
            best = order[0]
            texts, count = self._truncated(documents, items[best], budget)
            truncated = True
            reasons.pop(best, None)
        dropped = tuple(
            DroppedSegment(
                items[i].segment.document,
                items[i].segment.text,
                reasons.get(i, "low importance"),
                round(items[i].score, 4),
            )
            for i in range(len(items))
            if i not in kept and not (truncated and i == order[0])
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
        import numpy as np

        vectors = [k.vector for k in kept if k.vector is not None]
        if not vectors:
            return False
        return float(np.max(np.stack(vectors) @ item.vector)) >= self.redundancy

    def _truncated(self, documents: list[str], item: _Scored, budget: int) -> tuple[list[str], int]:
        """The best segment cut at a word boundary to fit ``budget``."""
        words_ = item.segment.text.split(" ")
        lo, hi = 0, len(words_)
        while lo < hi:  # the longest prefix of words that fits
            mid = (lo + hi + 1) // 2
            if self.counter.count(" ".join(words_[:mid])) <= budget:
                lo = mid
            else:
                hi = mid - 1
        text = " ".join(words_[:lo])
        texts = ["" for _ in documents]
        texts[item.segment.document] = text
        return texts, self.counter.count(text)


def _budget(original: int, ratio: float | None, max_tokens: int | None) -> int:
    if ratio is None and max_tokens is None:
        raise ConfigError("Give a target: ratio=0.4 (share of the tokens) or max_tokens=N.")
    budgets = []
    if ratio is not None:
        if not 0.0 < ratio <= 1.0:
            raise ConfigError(f"ratio must be in (0, 1]; got {ratio!r}.")
        budgets.append(int(original * ratio))
    if max_tokens is not None:
        if max_tokens < 0:
            raise ConfigError(f"max_tokens must be >= 0; got {max_tokens!r}.")
        budgets.append(max_tokens)
    return min(budgets)


def _protected(items: list[_Scored], protected: Sequence[str]) -> set[int]:
    return {i for i, it in enumerate(items) for p in protected if p and p in it.segment.text}


def _query_entities(query: str) -> set[str]:
    """Numbers and capitalized names of the query, lower-cased."""
    found = {m.group(0).lower() for m in _NUMBERS.finditer(query)}
    for m in _NAMES.finditer(query):
        name = m.group(0)
        if m.start() > 0 or " " in name:  # the question's first word is capitalized anyway
            found.add(name.lower())
    return {f for f in found if len(f) > 1}


def _assemble(documents: list[str], items: list[_Scored], kept: set[int]) -> list[str]:
    """Kept segments per document, in order; a paragraph break between paragraphs."""
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
        parts[seg.document].append(sep + seg.text)
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
