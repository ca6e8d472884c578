"""TokenomyCompressor in LangChain's retrieval pipelines."""

import pytest

pytest.importorskip("langchain_classic")

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_tokenomy import TokenomyCompressor
from tokenomy.compress import ExtractiveCompressor
from tokenomy.embed import HashingEmbedder, default_embedder

DOCS = [
    Document(
        page_content="The Eiffel Tower was completed in 1889. It is 330 metres tall. "
        "It was the tallest structure until 1930.",
        metadata={"source": "eiffel.txt"},
        id="a",
    ),
    Document(
        page_content="Bananas are yellow. They grow in the tropics. Bananas are rich in potassium.",
        metadata={"source": "bananas.txt"},
        id="b",
    ),
    Document(
        page_content="Mount Everest is 8,849 metres high. Climbers use oxygen. "
        "The first ascent was in 1953.",
        metadata={"source": "everest.txt"},
        id="c",
    ),
]


class MiniLMEmbeddings(Embeddings):
    def embed_documents(self, texts):
        return default_embedder().embed(texts).tolist()

    def embed_query(self, text):
        return default_embedder().embed([text])[0].tolist()


def fast():
    return TokenomyCompressor(
        max_tokens=20, compressor=ExtractiveCompressor(embedder=HashingEmbedder())
    )


def test_keeps_metadata_adds_kept_ratio_and_never_mutates():
    before = [d.model_copy(deep=True) for d in DOCS]
    out = fast().compress_documents(DOCS, "When was the Eiffel Tower completed?")
    assert before == DOCS
    assert out and "1889" in out[0].page_content
    assert (
        out[0].metadata["source"] == "eiffel.txt" and 0 < out[0].metadata["tokenomy_kept_ratio"] < 1
    )
    assert out[0].id == "a"
    assert all(d.page_content for d in out)


async def test_async_and_empty():
    assert await fast().acompress_documents([], "q") == []
    out = await fast().acompress_documents(DOCS, "How high is Everest?")
    assert "8,849" in " ".join(d.page_content for d in out)


@pytest.mark.slow
def test_in_a_contextual_compression_retriever_with_the_real_model():
    store = InMemoryVectorStore.from_documents(DOCS, MiniLMEmbeddings())
    retriever = ContextualCompressionRetriever(
        base_compressor=DocumentCompressorPipeline(transformers=[TokenomyCompressor(ratio=0.3)]),
        base_retriever=store.as_retriever(search_kwargs={"k": 3}),
    )
    docs = retriever.invoke("When was the Eiffel Tower completed?")
    text = " ".join(d.page_content for d in docs)
    assert "1889" in text
    total = sum(len(d.page_content) for d in DOCS)
    assert sum(len(d.page_content) for d in docs) < 0.5 * total
