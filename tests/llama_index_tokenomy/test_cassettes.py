"""A LlamaIndex query engine over real HTTP responses (recorded from SmolLM2)."""

import pytest

pytest.importorskip("llama_index.llms.openai_like")

from cassettes import MODEL, cassette, recorded_usages
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike
from llama_index_instrumentation.dispatcher import instrument_tags

import llama_index_tokenomy as lit

pytestmark = pytest.mark.cassette


def llm(base_url: str) -> OpenAILike:
    return OpenAILike(
        model=MODEL,
        api_base=base_url,
        api_key="sk-test",
        is_chat_model=True,
        context_window=2048,
        max_tokens=32,
        temperature=0.0,
        max_retries=0,
    )


@pytest.fixture(autouse=True)
def _clean():
    lit.disable()
    yield
    lit.disable()


def test_query_engine_under_enable_records_the_reported_usage(openai_base_url):
    handler = lit.enable()
    # One document with a fixed id, so the request (and its recorded body) is deterministic.
    docs = [
        Document(text="The Eiffel Tower is in Paris. Paris is the capital of France.", id_="d1")
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=llm(openai_base_url), similarity_top_k=1)
    with cassette("llama_index_query"), instrument_tags({"user": "u2", "feature": "rag"}):
        response = engine.query("What is the capital of France?")
    assert str(response)
    (rec,) = handler.ledger.records()  # one retrieved chunk: one LLM call
    assert [(rec.input_tokens, rec.output_tokens)] == recorded_usages("llama_index_query")
    assert rec.exact and rec.model == MODEL
    assert dict(rec.tags) == {"user": "u2", "feature": "rag"}


def test_chat_records_usage_from_the_raw_response(openai_base_url):
    handler = lit.enable()
    with cassette("llama_index_chat"):
        resp = llm(openai_base_url).chat([ChatMessage(role="user", content="Name a fruit.")])
    (rec,) = handler.ledger.records()
    usage = resp.raw.usage
    assert (rec.input_tokens, rec.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)


def test_stream_chat_is_recorded(openai_base_url):
    handler = lit.enable()
    with cassette("llama_index_stream_chat"):
        text = "".join(
            r.delta or ""
            for r in llm(openai_base_url).stream_chat([ChatMessage(role="user", content="Say hi.")])
        )
    (rec,) = handler.ledger.records()
    assert text and rec.output_tokens > 0


async def test_async_complete_is_recorded(openai_base_url):
    handler = lit.enable()
    with cassette("llama_index_acomplete"):
        await llm(openai_base_url).acomplete("The sky is")
    assert handler.ledger.totals().calls == 1
