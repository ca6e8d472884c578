"""TokenomyCallbackHandler with LangChain's own fake models (no network)."""

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import (
    BaseChatModel,
    FakeListChatModel,
    FakeListLLM,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate

import langchain_tokenomy as lt
from tokenomy.monitor import InMemoryLedger, SQLiteLedger
from tokenomy.tokens import count_tokens

USAGE = {"input_tokens": 12, "output_tokens": 4, "total_tokens": 16}


def replies(text="Paris.", model="gpt-4o-mini", usage=USAGE) -> Iterator[AIMessage]:
    while True:  # fresh objects: LangChain assigns ids to returned messages
        yield AIMessage(
            content=text,
            usage_metadata=dict(usage) if usage else None,
            response_metadata={"model_name": model},
        )


class StreamingUsageModel(BaseChatModel):
    """Streams words and puts the usage on the last chunk, like OpenAI's stream_usage."""

    @property
    def _llm_type(self) -> str:
        return "streaming-usage"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="one two three"))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop=None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ):
        for word in ["one ", "two ", "three"]:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={"input_tokens": 9, "output_tokens": 3, "total_tokens": 12},
                response_metadata={"model_name": "gpt-4o"},
                chunk_position="last",
            )
        )


@pytest.fixture(autouse=True)
def _no_global_state():
    set_llm_cache(None)
    lt.disable()
    yield
    set_llm_cache(None)
    lt.disable()


def test_usage_metadata_is_recorded_with_model_and_tags():
    handler = lt.TokenomyCallbackHandler()
    model = GenericFakeChatModel(messages=replies())
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    chain.invoke(
        {"q": "capital of France?"},
        config={"callbacks": [handler], "tags": ["user:u1"], "metadata": {"feature": "faq"}},
    )
    (rec,) = handler.ledger.records()
    assert (rec.model, rec.input_tokens, rec.output_tokens, rec.exact) == (
        "gpt-4o-mini",
        12,
        4,
        True,
    )
    assert dict(rec.tags) == {"user": "u1", "feature": "faq"}
    assert rec.cost_usd == pytest.approx(12 * 0.15e-6 + 4 * 0.6e-6)
    assert rec.latency_s is not None and rec.source == "langchain"


def test_without_usage_the_handler_counts_and_marks_estimated():
    handler = lt.TokenomyCallbackHandler()
    FakeListChatModel(responses=["Paris is the capital."]).invoke(
        "What is the capital of France?", config={"callbacks": [handler]}
    )
    (rec,) = handler.ledger.records()
    assert not rec.exact
    expected_in = count_tokens(
        [{"role": "user", "content": "What is the capital of France?"}], model=None
    )
    assert rec.input_tokens == expected_in.tokens
    assert rec.output_tokens == count_tokens("Paris is the capital.", model=None).tokens
    assert rec.model is None  # goes to the unattributed bucket, not dropped
    assert handler.ledger.aggregate(("model",))[0].group == {"model": "unattributed"}


def test_llm_output_token_usage_is_the_fallback():
    from langchain_core.outputs import LLMResult

    handler = lt.TokenomyCallbackHandler()
    import uuid

    run = uuid.uuid4()
    handler.on_llm_start(
        {}, ["prompt"], run_id=run, invocation_params={"model_name": "gpt-3.5-turbo"}
    )
    handler.on_llm_end(
        LLMResult(
            generations=[[]],
            llm_output={
                "token_usage": {"prompt_tokens": 30, "completion_tokens": 7},
                "model_name": "gpt-3.5-turbo",
            },
        ),
        run_id=run,
    )
    (rec,) = handler.ledger.records()
    assert (rec.model, rec.input_tokens, rec.output_tokens, rec.exact) == (
        "gpt-3.5-turbo",
        30,
        7,
        True,
    )


def test_text_llm_is_recorded():
    handler = lt.TokenomyCallbackHandler()
    FakeListLLM(responses=["ok"]).invoke("hello", config={"callbacks": [handler]})
    assert handler.ledger.totals().calls == 1


def test_streaming_usage_from_the_last_chunk():
    handler = lt.TokenomyCallbackHandler()
    text = "".join(
        c.content for c in StreamingUsageModel().stream("hi", config={"callbacks": [handler]})
    )
    assert text == "one two three"
    (rec,) = handler.ledger.records()
    assert (rec.model, rec.input_tokens, rec.output_tokens, rec.exact) == ("gpt-4o", 9, 3, True)


def test_streaming_without_usage_counts_streamed_text():
    handler = lt.TokenomyCallbackHandler()
    chunks = list(
        GenericFakeChatModel(messages=iter(["alpha beta gamma"])).stream(
            "hi", config={"callbacks": [handler]}
        )
    )
    assert chunks
    (rec,) = handler.ledger.records()
    assert (
        not rec.exact and rec.output_tokens == count_tokens("alpha beta gamma", model=None).tokens
    )


def test_llm_cache_hit_is_saved_not_spent():
    set_llm_cache(InMemoryCache())
    handler = lt.TokenomyCallbackHandler()
    model = GenericFakeChatModel(messages=replies())
    for _ in range(2):
        assert model.invoke("same question", config={"callbacks": [handler]}).content == "Paris."
    miss, hit = sorted(handler.ledger.records(), key=lambda r: r.timestamp)
    assert (miss.input_tokens, miss.output_tokens, miss.cache_hit) == (12, 4, False)
    assert (hit.input_tokens, hit.output_tokens, hit.cache_hit) == (0, 0, True)
    assert hit.saved_tokens == {"llm_cache": 16}
    totals = handler.ledger.totals()
    assert totals.total_tokens == 16 and totals.total_saved_tokens == 16  # not double counted


def test_errors_are_recorded_and_do_not_break_the_call():
    handler = lt.TokenomyCallbackHandler()

    class Boom(FakeListChatModel):
        def _call(self, *a, **k):
            raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        Boom(responses=["x"]).invoke("hi", config={"callbacks": [handler]})
    (rec,) = handler.ledger.records()
    assert rec.status == "error" and rec.tags["error"] == "RuntimeError"


def test_enable_tracks_an_unchanged_chain_from_any_thread(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    handler = lt.enable(ledger=SQLiteLedger(tmp_path / "usage.db"), tags={"app": "demo"})
    model = GenericFakeChatModel(messages=replies())
    model.invoke("in main thread")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda q: model.invoke(q), ["a", "b", "c"]))
    assert handler.ledger.totals().calls == 4
    assert all(r.tags["app"] == "demo" for r in handler.ledger.records())
    lt.disable()
    model.invoke("after disable")
    assert handler.ledger.totals().calls == 4


async def test_track_usage_scopes_nest_and_cover_async():
    model = GenericFakeChatModel(messages=replies())
    with lt.track_usage(ledger=InMemoryLedger()) as outer:
        await model.ainvoke("outer")
        with lt.track_usage() as inner:
            await model.ainvoke("inner")
    model.invoke("outside")
    assert inner.ledger.totals().calls == 1
    assert outer.ledger.totals().calls == 2


def test_track_usage_and_an_explicit_handler_do_not_double_count():
    model = GenericFakeChatModel(messages=replies())
    with lt.track_usage() as usage:
        model.invoke("q", config={"callbacks": [usage]})
    assert usage.ledger.totals().calls == 1


def test_handler_does_not_mutate_messages():
    from langchain_core.messages import HumanMessage

    msgs = [HumanMessage("hi", id="m1")]
    before = [m.model_dump() for m in msgs]
    FakeListChatModel(responses=["ok"]).invoke(
        msgs, config={"callbacks": [lt.TokenomyCallbackHandler()]}
    )
    assert [m.model_dump() for m in msgs] == before
