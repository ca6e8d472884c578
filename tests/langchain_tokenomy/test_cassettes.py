"""An unchanged LangChain chain over real HTTP responses (recorded from SmolLM2
served by llama-cpp-python's OpenAI-compatible server; see tests/_support/cassettes.py)."""

import pytest

pytest.importorskip("langchain_openai")

from cassettes import MODEL, cassette
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

import langchain_tokenomy as lt
from tokenomy.tokens import count_tokens

pytestmark = pytest.mark.cassette


def chat_model(base_url: str, **kw) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=base_url,
        api_key="sk-test",
        temperature=0,
        max_tokens=32,
        max_retries=0,
        **kw,
    )


@pytest.fixture(autouse=True)
def _clean():
    set_llm_cache(None)
    lt.disable()
    yield
    set_llm_cache(None)
    lt.disable()


def test_unchanged_chain_under_enable_records_the_reported_usage(openai_base_url):
    handler = lt.enable()
    chain = ChatPromptTemplate.from_messages(
        [("system", "Answer in one short sentence."), ("human", "{question}")]
    ) | chat_model(openai_base_url)
    with cassette("langchain_chain_invoke"):
        answers = [
            chain.invoke({"question": q}, config={"metadata": {"user": "u1"}})
            for q in ("What is the capital of France?", "Name a primary color.")
        ]
    records = sorted(handler.ledger.records(), key=lambda r: r.timestamp)
    assert len(records) == 2
    for answer, rec in zip(answers, records, strict=True):
        usage = answer.usage_metadata
        assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert (rec.input_tokens, rec.output_tokens) == (
            usage["input_tokens"],
            usage["output_tokens"],
        )
        assert rec.exact and rec.model == MODEL and rec.tags["user"] == "u1"


def test_in_memory_cache_hit_is_recorded_as_saved(openai_base_url):
    set_llm_cache(InMemoryCache())
    handler = lt.enable()
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | chat_model(
        openai_base_url
    )
    with cassette("langchain_cache_hit"):
        first = chain.invoke({"question": "What is 2 + 2?"})
        second = chain.invoke({"question": "What is 2 + 2?"})  # served by InMemoryCache, no HTTP
    assert first.content == second.content
    miss, hit = sorted(handler.ledger.records(), key=lambda r: r.timestamp)
    spent = first.usage_metadata["input_tokens"] + first.usage_metadata["output_tokens"]
    assert (miss.total_tokens, miss.cache_hit) == (spent, False)
    assert (hit.total_tokens, hit.cache_hit, hit.saved_tokens) == (0, True, {"llm_cache": spent})
    assert handler.ledger.totals().total_tokens == spent


def test_streaming_is_recorded(openai_base_url):
    handler = lt.enable()
    with cassette("langchain_stream"):
        text = "".join(
            c.content for c in chat_model(openai_base_url, stream_usage=True).stream("Say hello.")
        )
    (rec,) = handler.ledger.records()
    assert text
    # llama-cpp's server ignores stream_options.include_usage, so no usage arrives: the
    # handler counts the prompt and the streamed text and says the record is estimated.
    assert not rec.exact
    assert rec.output_tokens == count_tokens(text, model=MODEL).tokens
    assert (
        rec.input_tokens
        == count_tokens([{"role": "user", "content": "Say hello."}], model=MODEL).tokens
    )


async def test_async_invoke_is_recorded(openai_base_url):
    with lt.track_usage() as usage, cassette("langchain_ainvoke"):
        answer = await chat_model(openai_base_url).ainvoke("What color is the sky?")
    (rec,) = usage.ledger.records()
    assert rec.input_tokens == answer.usage_metadata["input_tokens"]
