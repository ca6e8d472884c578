"""SemanticCacheLLM with LlamaIndex's mock LLM."""

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage, MockLLM

import llama_index_tokenomy as lit
from tokenomy.cache import SemanticCache
from tokenomy.embed import HashingEmbedder
from tokenomy.monitor import UsageRecorder


def semantic(**kw):
    return SemanticCache(
        embedder=HashingEmbedder(), verifier=None, guards=False, similarity=0.85, **kw
    )


@pytest.fixture(autouse=True)
def _clean():
    lit.disable()
    old = Settings.callback_manager
    yield
    lit.disable()
    Settings.callback_manager = old


def test_hits_are_not_counted_by_llamaindex_and_are_saved_in_tokenomy():
    counter = TokenCountingHandler(tokenizer=lambda s: s.split())
    Settings.callback_manager = CallbackManager([counter])
    usage = lit.enable()
    llm = lit.SemanticCacheLLM(MockLLM(max_tokens=4), semantic())
    for _ in range(3):
        assert llm.complete("What is the capital of France?").text == "text text text text"
    assert len(counter.llm_token_counts) == 1  # one real call, counted once
    records = sorted(usage.ledger.records(), key=lambda r: r.timestamp)
    assert [r.cache_hit for r in records] == [False, True, True]
    assert records[1].saved_tokens == {"exact_cache": records[0].total_tokens}


def test_chat_paraphrase_hits_and_streaming_replays():
    llm = lit.SemanticCacheLLM(MockLLM(max_tokens=3), semantic())
    msgs = [ChatMessage(role="user", content="What is the capital of France?")]
    first = llm.chat(msgs).message.content
    para = llm.chat([ChatMessage(role="user", content="what is the capital of france")])
    assert (
        para.message.content == first
        and para.additional_kwargs["tokenomy_cache_hit"] == "semantic_cache"
    )
    streamed = "".join(r.delta for r in llm.stream_complete("stream me"))
    replayed = list(llm.stream_complete("stream me"))
    assert "".join(r.delta for r in replayed) == streamed and replayed[-1].text == streamed
    assert llm.cache.stats().hits == 2


async def test_async_forms():
    recorder = UsageRecorder()
    llm = lit.SemanticCacheLLM(MockLLM(max_tokens=2), semantic(), recorder=recorder)
    a = await llm.acomplete("async q")
    b = await llm.acomplete("async q")
    assert a.text == b.text
    msgs = [ChatMessage(role="user", content="async chat")]
    c = await llm.achat(msgs)
    d = await llm.achat(msgs)
    assert c.message.content == d.message.content
    gen = await llm.astream_chat(msgs)
    assert "".join([r.delta async for r in gen]) == c.message.content
    gen = await llm.astream_complete("async stream")
    first = "".join([r.delta async for r in gen])
    gen = await llm.astream_complete("async stream")
    assert "".join([r.delta async for r in gen]) == first
    assert recorder.ledger.totals().cache_hits == 4


def test_query_engine_with_the_wrapper_as_llm():
    llm = lit.SemanticCacheLLM(MockLLM(max_tokens=5), semantic(), scope="tenant-a")
    index = VectorStoreIndex.from_documents(
        [Document(text="Paris is the capital of France.", id_="d")],
        embed_model=MockEmbedding(embed_dim=8),
    )
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)
    assert str(engine.query("capital of France?")) == str(engine.query("capital of France?"))
    assert llm.cache.stats().exact_hits == 1
    assert llm.metadata == MockLLM(max_tokens=5).metadata


def test_scopes_do_not_share():
    cache = semantic()
    alice = lit.SemanticCacheLLM(MockLLM(), cache, scope="alice")
    bob = lit.SemanticCacheLLM(MockLLM(), cache, scope="bob")
    alice.complete("secret question")
    bob.complete("secret question")
    assert cache.stats().hits == 0


def test_bad_arguments():
    from tokenomy.errors import ConfigError

    with pytest.raises(ConfigError, match="LlamaIndex LLM"):
        lit.SemanticCacheLLM("gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SemanticCache"):
        lit.SemanticCacheLLM(MockLLM(), cache={})  # type: ignore[arg-type]
