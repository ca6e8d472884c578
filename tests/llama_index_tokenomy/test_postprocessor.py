"""TokenomyNodePostprocessor in LlamaIndex query engines."""

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_tokenomy import TokenomyNodePostprocessor
from tokenomy.compress import ExtractiveCompressor
from tokenomy.embed import HashingEmbedder

TEXTS = [
    "The Eiffel Tower was completed in 1889. It is 330 metres tall. It was the tallest until 1930.",
    "Bananas are yellow. They grow in the tropics. Bananas are rich in potassium.",
    "Mount Everest is 8,849 metres high. The first ascent was in 1953.",
]


def post(**kw):
    kw.setdefault("max_tokens", 20)
    return TokenomyNodePostprocessor(
        compressor=ExtractiveCompressor(embedder=HashingEmbedder()), **kw
    )


def nodes():
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"i": i}), score=1.0 - i / 10)
        for i, t in enumerate(TEXTS)
    ]


def test_one_node_per_source_with_its_score_id_and_metadata_and_no_mutation():
    given = nodes()
    out = post().postprocess_nodes(given, query_str="When was the Eiffel Tower completed?")
    assert [n.node.get_content() for n in given] == TEXTS
    assert out[0].node.node_id == "n0" and out[0].score == 1.0 and out[0].node.metadata["i"] == 0
    assert "1889" in out[0].node.get_content(metadata_mode="none")
    assert "tokenomy_kept_ratio" in out[0].node.metadata
    assert "tokenomy_kept_ratio" not in out[0].node.get_content(metadata_mode="llm")


async def test_async_without_a_query_embedding():
    out = await post().apostprocess_nodes(
        nodes(), query_bundle=QueryBundle("How high is Everest?", embedding=None)
    )
    assert "8,849" in " ".join(n.node.get_content() for n in out)


def test_in_a_query_engine_composed_with_other_postprocessors():
    index = VectorStoreIndex.from_documents(
        [Document(text=t, id_=f"d{i}") for i, t in enumerate(TEXTS)],
        embed_model=MockEmbedding(embed_dim=8),
    )
    engine = index.as_query_engine(
        llm=MockLLM(),
        similarity_top_k=3,
        node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.0), post(max_tokens=15)],
    )
    response = engine.query("When was the Eiffel Tower completed?")
    assert "1889" in str(response)  # MockLLM echoes the prompt: the compressed context reached it
    assert all(n.score is not None for n in response.source_nodes)


def test_serializes():
    assert post().to_dict()["class_name"] == "TokenomyNodePostprocessor"
