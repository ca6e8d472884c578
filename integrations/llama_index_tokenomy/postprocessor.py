"""A LlamaIndex node postprocessor over tokenomy's extractive compression."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from pydantic import Field, PrivateAttr
from typing_extensions import override

from tokenomy.compress import CompressionResult, ExtractiveCompressor
from tokenomy.compress.result import KEPT_RATIO_KEY

__all__ = ["KEPT_RATIO_KEY", "TokenomyNodePostprocessor"]


class TokenomyNodePostprocessor(BaseNodePostprocessor):
    """Compresses retrieved nodes to a shared token budget, one node per source node.

    Each returned node keeps its source node's id, score, metadata and relationships
    and gains ``tokenomy_kept_ratio`` in its metadata (excluded from the LLM text);
    nodes with nothing kept are dropped. Source nodes are never modified. Works under
    ``query`` and ``aquery`` (the query embedding may be None under async; the
    query text is used).

    Args:
        ratio: target share of the nodes' tokens (default 0.4).
        max_tokens: target budget in tokens (the smaller target wins).
        min_retention: keep more rather than fall below this retention estimate.
        model: whose tokenizer counts the budget (default gpt-4o).
    """

    ratio: float | None = Field(default=0.4)
    max_tokens: int | None = Field(default=None)
    min_retention: float | None = Field(default=None)
    model: str = Field(default="gpt-4o")
    _engine: ExtractiveCompressor = PrivateAttr()

    def __init__(self, *, compressor: ExtractiveCompressor | None = None, **data: Any) -> None:
        super().__init__(**data)
        self._engine = compressor or ExtractiveCompressor(model=self.model)

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
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        query = query_bundle.query_str if query_bundle is not None else None
        result = self._engine.compress(texts, query=query or None, **self._kwargs())
        return self._nodes(nodes, result)

    @override
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._postprocess_nodes, nodes, query_bundle)
