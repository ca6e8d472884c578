"""TokenomyCache (set_llm_cache) and OptimizedChatModel with LangChain's fakes."""

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from pydantic import BaseModel

import langchain_tokenomy as lt
from langchain_tokenomy import OptimizedChatModel, TokenomyCache, cache_scope
from tokenomy.cache import SemanticCache
from tokenomy.embed import HashingEmbedder


def semantic(**kw) -> SemanticCache:
    kw.setdefault("embedder", HashingEmbedder())
    kw.setdefault("verifier", None)
    kw.setdefault("guards", False)
    kw.setdefault("similarity", 0.85)
    return SemanticCache(**kw)


def numbered_answers(model="gpt-4o-mini"):
    """A new answer every call ("answer 1", "answer 2", …): a cache hit repeats one."""
    for i in itertools.count(1):
        yield AIMessage(
            content=f"answer {i}",
            response_metadata={"model_name": model},
            usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
        )


class ToolModel(BaseChatModel):
    """Answers with a tool call when tools are bound, echoes the last message otherwise."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "tool-model"

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        tools = kwargs.get("tools")
        if tools:
            name = tools[0]["function"]["name"]
            msg = AIMessage(
                content="", tool_calls=[{"name": name, "args": {"a": 2, "b": 3}, "id": "c1"}]
            )
        else:
            msg = AIMessage(content=f"echo {messages[-1].content} #{self.calls}")
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages,
        stop=None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ):
        self.calls += 1
        for word in ["streamed ", "answer ", f"#{self.calls}"]:
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


@pytest.fixture(autouse=True)
def _clean():
    set_llm_cache(None)
    lt.disable()
    yield
    set_llm_cache(None)
    lt.disable()


def _two_turns(model):
    history = [HumanMessage("What is the capital of France?")]
    first = model.invoke(history)
    history += [first, HumanMessage("And what is its population?")]
    second = model.invoke(history)
    return first, second


def test_two_turn_conversation_hits_both_turns_on_its_second_run_via_set_llm_cache():
    set_llm_cache(TokenomyCache(semantic()))
    model = GenericFakeChatModel(messages=numbered_answers())
    cold = _two_turns(model)
    warm = _two_turns(model)
    assert [m.content for m in cold] == ["answer 1", "answer 2"]
    assert [m.content for m in warm] == ["answer 1", "answer 2"]  # served from the cache
    assert all(m.response_metadata["tokenomy_cache_hit"] == "exact_cache" for m in warm)
    assert next(model.messages).content == "answer 3"  # the model ran only twice


def test_two_turn_conversation_hits_both_turns_via_optimized_chat_model():
    model = OptimizedChatModel(
        inner=GenericFakeChatModel(messages=numbered_answers()), cache=semantic()
    )
    cold = _two_turns(model)
    warm = _two_turns(model)
    assert [m.content for m in warm] == [m.content for m in cold]
    assert model.answer_cache.stats().exact_hits == 2


def test_hits_are_recorded_as_saved_by_the_usage_handler():
    set_llm_cache(TokenomyCache(semantic()))
    handler = lt.enable()
    model = GenericFakeChatModel(messages=numbered_answers())
    model.invoke("What is the capital of France?")
    model.invoke("what is the capital of france")  # a paraphrase: semantic hit
    miss, hit = sorted(handler.ledger.records(), key=lambda r: r.timestamp)
    assert miss.total_tokens == 12 and not miss.cache_hit
    assert hit.total_tokens == 0 and hit.saved_tokens == {"semantic_cache": 12}


def test_scopes_isolate_set_llm_cache_and_model_metadata():
    set_llm_cache(TokenomyCache(semantic()))
    model = GenericFakeChatModel(messages=numbered_answers())
    with cache_scope("alice"):
        a1 = model.invoke("my balance?")
        a2 = model.invoke("my balance?")
    with cache_scope("bob"):
        b1 = model.invoke("my balance?")
    assert a1.content == a2.content != b1.content
    set_llm_cache(None)
    opt = OptimizedChatModel(
        inner=GenericFakeChatModel(messages=numbered_answers()), cache=semantic()
    )
    x = opt.invoke("my balance?", config={"metadata": {"user": "alice"}})
    y = opt.invoke("my balance?", config={"metadata": {"user": "bob"}})
    z = opt.invoke("my balance?", config={"metadata": {"user": "alice"}})
    assert x.content == z.content != y.content


def test_optimized_model_streams_hits_and_stores_streamed_misses():
    inner = ToolModel()
    model = OptimizedChatModel(inner=inner, cache=semantic())
    first = "".join(c.content for c in model.stream("hello there"))
    second = [c.content for c in model.stream("hello there")]
    assert first == "streamed answer #1"
    assert "".join(second) == first and len(second) > 1  # replayed as a stream
    assert inner.calls == 1
    assert model.invoke("hello there").content == first  # the streamed answer serves invoke too


async def test_optimized_model_async_paths():
    inner = ToolModel()
    model = OptimizedChatModel(inner=inner, cache=semantic())
    a = await model.ainvoke("async question")
    b = await model.ainvoke("async question")
    assert a.content == b.content and inner.calls == 1
    chunks = [c.content async for c in model.astream("async question")]
    assert "".join(chunks) == a.content
    streamed = "".join([c.content async for c in model.astream("fresh stream")])
    again = "".join([c.content async for c in model.astream("fresh stream")])
    assert streamed == again and inner.calls == 2


def test_bind_tools_and_structured_output_go_through_the_inner_model():
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    inner = ToolModel()
    model = OptimizedChatModel(inner=inner, cache=semantic())
    call1 = model.bind_tools([add]).invoke("what is 2 + 3?")
    call2 = model.bind_tools([add]).invoke("what is 2 + 3?")
    assert call1.tool_calls[0]["name"] == "add" and call2.tool_calls == call1.tool_calls
    assert inner.calls == 1
    assert model.invoke("what is 2 + 3?").content.startswith("echo")  # no tools: another key

    class Sum(BaseModel):
        a: int
        b: int

    structured = model.with_structured_output(Sum)
    assert structured.invoke("two numbers please") == Sum(a=2, b=3)


def test_answers_cut_by_length_are_not_cached():
    def cut():
        for i in itertools.count():
            yield AIMessage(content=f"truncated {i}", response_metadata={"finish_reason": "length"})

    set_llm_cache(TokenomyCache(semantic()))
    model = GenericFakeChatModel(messages=cut())
    assert model.invoke("long essay").content != model.invoke("long essay").content


def test_ls_model_name_comes_from_the_inner_model():
    from langchain_core.language_models import FakeListChatModel

    inner = FakeListChatModel(responses=["x"])
    model = OptimizedChatModel(inner=inner, cache=semantic())
    assert model._get_ls_params() == inner._get_ls_params()


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.just('[{"lc": 1, "type": "constructor"'),
        st.just('[{"lc": 1, "type": "constructor", "id": ["x", "Weird"], "kwargs": {}}]'),
        st.just('[{"lc": 1, "kwargs": {"content": 5}}]'),
        st.just("[{}]"),
        st.just("[" + "{" * 500),
        st.text(alphabet="\x00\ud7ff\ue000\U0001f680\u202e", max_size=50),
    )
)
def test_fuzzed_prompts_never_crash_a_lookup(prompt):
    cache = TokenomyCache(semantic())
    assert cache.lookup(prompt, "llm") is None
    cache.update(prompt, "llm", [ChatGeneration(message=AIMessage(content="ok"))])
    assert cache.lookup(prompt, "llm") is not None


def test_streamed_calls_are_scoped_by_run_metadata_too():
    opt = OptimizedChatModel(
        inner=GenericFakeChatModel(messages=numbered_answers()), cache=semantic()
    )

    def ask(user):
        return "".join(
            c.content for c in opt.stream("my balance?", config={"metadata": {"user": user}})
        )

    alice, bob, alice_again = ask("alice"), ask("bob"), ask("alice")
    assert alice == alice_again != bob


async def test_async_streamed_calls_are_scoped_by_run_metadata_too():
    opt = OptimizedChatModel(
        inner=GenericFakeChatModel(messages=numbered_answers()), cache=semantic()
    )

    async def ask(user):
        return "".join(
            [
                c.content
                async for c in opt.astream("my balance?", config={"metadata": {"user": user}})
            ]
        )

    alice, bob, alice_again = await ask("alice"), await ask("bob"), await ask("alice")
    assert alice == alice_again != bob
