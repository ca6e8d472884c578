"""A LlamaIndex node postprocessor over tokenomy's extractive compression."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from pydantic import Field, PrivateAttr
from typing_extensions import override

from tokenomy._failures import FailureLog
from tokenomy.compress import DEFAULT_RATIO, CompressionResult, ExtractiveCompressor, check_target
from tokenomy.compress.result import KEPT_RATIO_KEY
from tokenomy.errors import ConfigError
from tokenomy.tokens import DEFAULT_MODEL

__all__ = ["KEPT_RATIO_KEY", "TokenomyNodePostprocessor"]

log = logging.getLogger(__name__)


class TokenomyNodePostprocessor(BaseNodePostprocessor):
    """Compresses retrieved nodes to a shared token budget, one node per source node.

    Each returned node keeps its source node's id, score, metadata and relationships
    and gains ``tokenomy_kept_ratio`` in its metadata (excluded from the LLM text);
    nodes with nothing kept are dropped. Source nodes are never modified. Works under
    ``query`` and ``aquery`` (the query embedding may be None under async; the
    query text is used).

    Compression never fails the query: when the compressor or its embedder raises,
    the nodes are returned as they are, the failure is counted in :attr:`failures`
    and logged (a warning the first time, debug level for repeats).

    Args:
        ratio: target share of the nodes' tokens, in (0, 1] (default 0.4,
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

    ratio: float | None = Field(default=DEFAULT_RATIO)
    max_tokens: int | None = Field(default=None)
    min_retention: float | None = Field(default=None)
    model: str = Field(default=DEFAULT_MODEL)
    _engine: ExtractiveCompressor = PrivateAttr()
    _failures: FailureLog = PrivateAttr(
        default_factory=lambda: FailureLog(
            log, "node compression", "the nodes are returned uncompressed"
        )
    )

    def __init__(self, *, compressor: ExtractiveCompressor | None = None, **data: Any) -> None:
        # LlamaIndex components ignore unknown fields: a typo would silently keep the default
        fields = type(self).model_fields
        if unknown := set(data) - set(fields):
            raise ConfigError.unknown_keywords(
                type(self).__name__, unknown, {*fields, "compressor"}
            )
        super().__init__(**data)
        check_target(self.ratio, self.max_tokens, self.min_retention)
        self._engine = compressor or ExtractiveCompressor(model=self.model)

    @property
    def failures(self) -> int:
        """Calls whose compression raised; their nodes were returned as they were."""
        return self._failures.count

    @classmethod
    @override
    def class_name(cls) -> str:
        return "TokenomyNodePostprocessor"

    def _kwargs(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "max_tokens": self.max_tokens,
            "min_retention": self.min_retention,
        }

    def _nodes(self, nodes: list[NodeWithScore], result: CompressionResult) -> list[NodeWithScore]:
        counter = self._engine.counter
        out = []
        for n, text in zip(nodes, result.documents, strict=True):
            if not text:
                continue
            source = n.node
            original = counter.count(source.get_content(metadata_mode=MetadataMode.NONE)) or 1
            metadata = {**source.metadata, KEPT_RATIO_KEY: round(counter.count(text) / original, 4)}
            node = TextNode(
                id_=source.node_id,
                text=text,
                metadata=metadata,
                relationships=dict(source.relationships),
                excluded_llm_metadata_keys=[*source.excluded_llm_metadata_keys, KEPT_RATIO_KEY],
                excluded_embed_metadata_keys=[*source.excluded_embed_metadata_keys, KEPT_RATIO_KEY],
            )
            out.append(NodeWithScore(node=node, score=n.score))
        return out

    @override
    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        try:
            texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
            query = query_bundle.query_str if query_bundle is not None else None
            result = self._engine.compress(texts, query=query or None, **self._kwargs())
            return self._nodes(nodes, result)
        except Exception as exc:  # the never-fail boundary (DESIGN.md)
            self._failures.record(exc)
            return list(nodes)

    @override
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._postprocess_nodes, nodes, query_bundle)
