"""A LangChain document compressor over tokenomy's extractive compression."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr
from typing_extensions import override

from tokenomy._failures import FailureLog
from tokenomy.compress import DEFAULT_RATIO, CompressionResult, ExtractiveCompressor, check_target
from tokenomy.compress.result import KEPT_RATIO_KEY
from tokenomy.errors import ConfigError
from tokenomy.tokens import DEFAULT_MODEL

__all__ = ["KEPT_RATIO_KEY", "TokenomyCompressor"]

log = logging.getLogger(__name__)


class TokenomyCompressor(BaseDocumentCompressor):
    """Compresses retrieved documents to a shared token budget, keeping the answer.

    Use it in ``ContextualCompressionRetriever`` or ``DocumentCompressorPipeline``.
    Each returned document keeps its metadata and gains ``tokenomy_kept_ratio`` (its
    kept tokens / its original tokens); documents with nothing kept are dropped.
    Inputs are never modified.

    Compression never fails the retrieval: when the compressor or its embedder
    raises, the documents are returned as they are, the failure is counted in
    :attr:`failures` and logged (a warning the first time, debug level for repeats).

    Args:
        ratio: target share of the documents' tokens, in (0, 1] (default 0.4,
            ``tokenomy.compress.DEFAULT_RATIO``; None: ``max_tokens`` only).
        max_tokens: target budget in tokens, >= 0 (the smaller target wins).
        min_retention: keep more rather than fall below this retention estimate, in [0, 1].
        model: whose tokenizer counts the budget (default gpt-4o).
        compressor: a configured :class:`~tokenomy.compress.ExtractiveCompressor`.

    Raises:
        ConfigError: at construction, for a keyword it does not take (``ratoi=0.3``
            names ``ratio``) or a target out of range (pydantic's ``ValidationError``
            for a value of the wrong type).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    ratio: float | None = DEFAULT_RATIO
    max_tokens: int | None = None
    min_retention: float | None = None
    model: str = DEFAULT_MODEL
    compressor: ExtractiveCompressor | None = Field(default=None, exclude=True)
    _engine: ExtractiveCompressor = PrivateAttr()
    _failures: FailureLog = PrivateAttr(
        default_factory=lambda: FailureLog(
            log, "document compression", "the documents are returned uncompressed"
        )
    )

    def __init__(self, **data: Any) -> None:
        # pydantic's own error for an extra field names neither the class nor the
        # valid fields; this one suggests the closest (ratoi -> ratio)
        fields = type(self).model_fields
        if unknown := set(data) - set(fields):
            raise ConfigError.unknown_keywords(type(self).__name__, unknown, fields)
        super().__init__(**data)
        check_target(self.ratio, self.max_tokens, self.min_retention)

    def model_post_init(self, context: Any) -> None:
        self._engine = self.compressor or ExtractiveCompressor(model=self.model)

    @property
    def failures(self) -> int:
        """Calls whose compression raised; their documents were returned as they were."""
        return self._failures.count

    def _kwargs(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "max_tokens": self.max_tokens,
            "min_retention": self.min_retention,
        }

    def _documents(
        self, documents: Sequence[Document], result: CompressionResult
    ) -> list[Document]:
        counter = self._engine.counter
        out = []
        for doc, text in zip(documents, result.documents, strict=True):
            if not text:
                continue
            original = counter.count(doc.page_content) or 1
            metadata = {**doc.metadata, KEPT_RATIO_KEY: round(counter.count(text) / original, 4)}
            out.append(Document(page_content=text, metadata=metadata, id=doc.id))
        return out

    @override
    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        try:
            result = self._engine.compress(
                [d.page_content for d in documents], query=query or None, **self._kwargs()
            )
            return self._documents(documents, result)
        except Exception as exc:  # the never-fail boundary (DESIGN.md)
            self._failures.record(exc)
            return list(documents)

    @override
    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        try:
            result = await self._engine.acompress(
                [d.page_content for d in documents], query=query or None, **self._kwargs()
            )
            return self._documents(documents, result)
        except Exception as exc:  # the never-fail boundary (DESIGN.md)
            self._failures.record(exc)
            return list(documents)
