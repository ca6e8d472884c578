"""A LangChain document compressor over tokenomy's extractive compression."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr
from typing_extensions import override

from tokenomy.compress import CompressionResult, ExtractiveCompressor
from tokenomy.compress.result import KEPT_RATIO_KEY

__all__ = ["KEPT_RATIO_KEY", "TokenomyCompressor"]


class TokenomyCompressor(BaseDocumentCompressor):
    """Compresses retrieved documents to a shared token budget, keeping the answer.

    Use it in ``ContextualCompressionRetriever`` or ``DocumentCompressorPipeline``.
    Each returned document keeps its metadata and gains ``tokenomy_kept_ratio`` (its
    kept tokens / its original tokens); documents with nothing kept are dropped.
    Inputs are never modified.

    Args:
        ratio: target share of the documents' tokens (default 0.4).
        max_tokens: target budget in tokens (the smaller target wins).
        min_retention: keep more rather than fall below this retention estimate.
        model: whose tokenizer counts the budget (default gpt-4o).
        compressor: a configured :class:`~tokenomy.compress.ExtractiveCompressor`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ratio: float | None = 0.4
    max_tokens: int | None = None
    min_retention: float | None = None
    model: str = "gpt-4o"
    compressor: ExtractiveCompressor | None = Field(default=None, exclude=True)
    _engine: ExtractiveCompressor = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._engine = self.compressor or ExtractiveCompressor(model=self.model)

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
        result = self._engine.compress(
            [d.page_content for d in documents], query=query or None, **self._kwargs()
        )
        return self._documents(documents, result)

    @override
    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        result = await self._engine.acompress(
            [d.page_content for d in documents], query=query or None, **self._kwargs()
        )
        return self._documents(documents, result)
