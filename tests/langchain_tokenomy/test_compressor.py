"""TokenomyCompressor in LangChain's retrieval pipelines."""

import logging

import pytest

pytest.importorskip("langchain_classic")

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_tokenomy import TokenomyCompressor
from tokenomy.compress import DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.embed import HashingEmbedder, default_embedder
from tokenomy.errors import ConfigError
from tokenomy.tokens import DEFAULT_MODEL

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


class BrokenEmbedder:
    name = "broken"
    dim = 8

    def embed(self, texts):
        raise RuntimeError("the embedding model cannot load")


class BrokenEngine(ExtractiveCompressor):
    def compress(self, context, **kwargs):
        raise ValueError("engine bug")


def test_an_unknown_keyword_is_rejected_naming_the_closest_one():
    with pytest.raises(ConfigError, match=r"'ratoi' \(did you mean 'ratio'\?\).*max_tokens"):
        TokenomyCompressor(ratoi=0.3)


@pytest.mark.parametrize(
    "options",
    [
        {"ratio": 0},
        {"ratio": 1.5},
        {"ratio": None},  # and no max_tokens: no target at all
        {"max_tokens": -1},
        {"min_retention": 1.2},
    ],
)
def test_targets_are_checked_at_construction(options):
    with pytest.raises(ConfigError):
        TokenomyCompressor(**options)


def test_defaults_are_the_core_constants():
    c = TokenomyCompressor(compressor=ExtractiveCompressor(embedder=HashingEmbedder()))
    assert (c.ratio, c.max_tokens, c.model) == (DEFAULT_RATIO, None, DEFAULT_MODEL)
    assert TokenomyCompressor(ratio=None, max_tokens=10).max_tokens == 10


@pytest.mark.parametrize(
    "engine", [BrokenEngine, lambda: ExtractiveCompressor(embedder=BrokenEmbedder())]
)
@pytest.mark.parametrize("path", ["sync", "async"])
async def test_a_failing_engine_or_embedder_passes_the_documents_through(engine, path, caplog):
    compressor = TokenomyCompressor(max_tokens=20, compressor=engine())
    caplog.set_level(logging.DEBUG, logger="langchain_tokenomy.compressor")
    for _ in range(3):
        if path == "sync":
            out = compressor.compress_documents(DOCS, "When was the Eiffel Tower completed?")
        else:
            out = await compressor.acompress_documents(DOCS, "How high is Everest?")
        assert list(out) == DOCS  # unchanged, in order, metadata included
    assert compressor.failures == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "returned uncompressed" in warnings[0].getMessage()
    assert len(caplog.records) == 3  # the repeats at debug level
