"""TokenomyNodePostprocessor in LlamaIndex query engines."""

import logging

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_tokenomy import TokenomyNodePostprocessor
from tokenomy.compress import DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.tokens import DEFAULT_MODEL

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


class BrokenEmbedder:
    name = "broken"
    dim = 8

    def embed(self, texts):
        raise RuntimeError("the embedding model cannot load")


class BrokenEngine(ExtractiveCompressor):
    def compress(self, context, **kwargs):
        raise ValueError("engine bug")


def test_an_unknown_keyword_is_rejected_naming_the_closest_one():
    with pytest.raises(ConfigError, match=r"'ratoi' \(did you mean 'ratio'\?\).*compressor"):
        TokenomyNodePostprocessor(ratoi=0.3)


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
        TokenomyNodePostprocessor(**options)


def test_defaults_are_the_core_constants_and_it_round_trips():
    p = TokenomyNodePostprocessor()
    assert (p.ratio, p.max_tokens, p.model) == (DEFAULT_RATIO, None, DEFAULT_MODEL)
    again = TokenomyNodePostprocessor.from_dict(post(ratio=0.3).to_dict())
    assert (again.ratio, again.max_tokens) == (0.3, 20)


@pytest.mark.parametrize(
    "engine", [BrokenEngine, lambda: ExtractiveCompressor(embedder=BrokenEmbedder())]
)
@pytest.mark.parametrize("path", ["sync", "async"])
async def test_a_failing_engine_or_embedder_passes_the_nodes_through(engine, path, caplog):
    postprocessor = TokenomyNodePostprocessor(max_tokens=20, compressor=engine())
    caplog.set_level(logging.DEBUG, logger="llama_index_tokenomy.postprocessor")
    given = nodes()
    for _ in range(3):
        if path == "sync":
            out = postprocessor.postprocess_nodes(given, query_str="When was it completed?")
        else:
            out = await postprocessor.apostprocess_nodes(
                given, query_bundle=QueryBundle("How high is Everest?", embedding=None)
            )
        assert [(n.node.node_id, n.node.get_content(), n.score) for n in out] == [
            (n.node.node_id, n.node.get_content(), n.score) for n in given
        ]
    assert postprocessor.failures == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "returned uncompressed" in warnings[0].getMessage()
    assert len(caplog.records) == 3  # the repeats at debug level
