"""The conversation window and compression in LangChain: trimmer, model stage, middleware."""

import copy

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from langchain_tokenomy import (
    OptimizedChatModel,
    TokenomyMiddleware,
    to_openai_messages,
    window_messages,
)
from tokenomy.cache import SemanticCache
from tokenomy.compress import ExtractiveCompressor
from tokenomy.context import ConversationWindow
from tokenomy.context.window import SUMMARY_PREFIX
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.tokens import TokenCounter

FILLER = [
    "The weather has been rainy all week and the garden is muddy.",
    "I watched a documentary about deep sea fish last night.",
    "My neighbour is renovating the kitchen and it is loud.",
    "Traffic on the ring road was terrible this morning.",
    "We are planning a picnic if the sun ever comes out.",
]


def history(question="What is my cat called?"):
    msgs = [
        SystemMessage("You are a helpful assistant."),
        HumanMessage("Hi, I need help planning my week."),
        AIMessage("Sure."),
        HumanMessage("My cat is called Whiskers."),
        AIMessage("Lovely name."),
    ]
    for f in FILLER:
        msgs += [HumanMessage(f), AIMessage("I see.")]
    return [*msgs, HumanMessage(question)]


def small_window(**kw):
    kw.setdefault("embedder", HashingEmbedder())
    kw.setdefault("summarizer", None)
    kw.setdefault("overlap_tokens", 0)
    return ConversationWindow(**kw)


SENT: list = []  # the message lists Recorder was sent


class Recorder(BaseChatModel):
    """Answers "ok" and remembers every message list it was sent."""

    @property
    def _llm_type(self):
        return "recorder"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        SENT.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage("ok"))])


def test_trimmer_keeps_what_matters_and_returns_langchain_messages():
    msgs = history()
    snapshot = copy.deepcopy(msgs)
    out = window_messages(msgs, window=small_window(max_tokens=110))
    assert all(m in msgs for m in out)  # the caller's own objects, no copies
    text = " ".join(m.content for m in out)
    assert "Whiskers" in text and FILLER[0] not in text
    assert TokenCounter().count_messages(to_openai_messages(out)) <= 110
    assert msgs == snapshot


def test_trimmer_as_a_runnable_in_a_chain_reads_the_session():
    window = small_window(max_tokens=110, session_budget=10_000)
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history")])
    chain = prompt | window_messages(window=window)
    out = chain.invoke({"history": history()}, config={"configurable": {"session_id": "s1"}})
    assert out[-1].content == "What is my cat called?"
    assert window.spent("s1") > 0  # the session id reached the window


def test_trimmer_adds_a_summary_system_message_after_the_system_prompt():
    window = ConversationWindow(
        max_tokens=150, overlap_tokens=0, summary_tokens=30, embedder=HashingEmbedder()
    )
    out = window_messages(history(), window=window)
    assert isinstance(out[1], SystemMessage) and out[1].content.startswith(SUMMARY_PREFIX)


def test_trimmer_never_splits_a_tool_call_from_its_result():
    msgs = [
        *history()[:-1],
        HumanMessage("Forecast please."),
        AIMessage("", tool_calls=[{"name": "forecast", "args": {"city": "Oslo"}, "id": "c1"}]),
        ToolMessage("Rain, 8 degrees.", tool_call_id="c1"),
        AIMessage("Rain in Oslo."),
        HumanMessage("What is my cat called?"),
    ]
    for budget in range(70, 240, 9):
        out = window_messages(msgs, window=small_window(max_tokens=budget))
        ids = [id(m) for m in out]
        assert (id(msgs[-4]) in ids) == (id(msgs[-3]) in ids), budget


def test_trimmer_errors_say_what_to_do():
    with pytest.raises(ConfigError, match="needs max_tokens"):
        window_messages(history())
    with pytest.raises(ConfigError, match="not both"):
        window_messages(history(), window=small_window(), max_tokens=10)
    with pytest.raises(ConfigError, match="list of messages"):
        window_messages("hello", max_tokens=10)


def test_model_stage_windows_what_the_inner_model_sees_and_caches_on_originals():
    SENT.clear()
    model = OptimizedChatModel(
        inner=Recorder(),
        cache=SemanticCache(mode="exact"),
        window=small_window(max_tokens=110),
    )
    msgs = history()
    snapshot = copy.deepcopy(msgs)
    assert model.invoke(msgs).content == "ok"
    assert len(SENT) == 1 and len(SENT[0]) < len(msgs)
    assert msgs == snapshot
    model.invoke(msgs)  # the same history hits the cache keyed on the originals
    assert len(SENT) == 1
    list(model.stream(history("Where do I live?")))
    assert len(SENT) == 2 and len(SENT[1]) < len(msgs)


async def test_model_stage_async_and_session_from_metadata():
    SENT.clear()
    window = small_window(max_tokens=110, session_budget=100_000)
    model = OptimizedChatModel(inner=Recorder(), window=window)
    await model.ainvoke(history(), config={"metadata": {"session_id": "chat-7"}})
    assert len(SENT[0]) < len(history())
    assert window.spent("chat-7") > 0


def test_model_stage_compresses_long_context_but_keeps_the_question():
    SENT.clear()
    context = " ".join(
        f"Fact {i}: the warehouse in town {i} stores {i * 7} crates of apples." for i in range(120)
    )
    question = "How many crates does the warehouse in town 42 store?"
    model = OptimizedChatModel(
        inner=Recorder(),
        compressor=ExtractiveCompressor(embedder=HashingEmbedder()),
        compress_ratio=0.2,
        compress_min_tokens=200,
    )
    system = SystemMessage("Answer from the context. " * 60)
    human = HumanMessage(f"{context}\n\n{question}")
    model.invoke([system, human])
    sent_system, sent_human = SENT[0]
    assert sent_system is system  # instructions are never compressed
    assert question in sent_human.content
    assert "294 crates" in sent_human.content
    counter = TokenCounter()
    assert counter.count(sent_human.content) <= 0.2 * counter.count(human.content) + 1
    assert human.content.startswith("Fact 0")  # the caller's message is unchanged


def test_model_stage_sends_a_message_uncompressed_when_the_question_alone_is_too_long():
    SENT.clear()
    model = OptimizedChatModel(
        inner=Recorder(),
        compressor=ExtractiveCompressor(embedder=HashingEmbedder()),
        compress_ratio=0.05,
        compress_min_tokens=10,
    )
    human = HumanMessage("Some context here about apples and pears.\n\n" + "Why? " * 40)
    model.invoke([human])
    assert SENT[0][0].content == human.content


def test_middleware_windows_model_calls_while_the_state_keeps_everything():
    from langchain.agents import create_agent

    SENT.clear()
    agent = create_agent(
        model=Recorder(),
        tools=[],
        system_prompt="You are a helpful assistant.",
        middleware=[TokenomyMiddleware(window=small_window(max_tokens=110))],
    )
    msgs = history()[1:]  # the agent adds its own system prompt
    state = agent.invoke({"messages": msgs})
    assert len(state["messages"]) == len(msgs) + 1  # every original plus the answer
    sent = SENT[0]
    assert sent[0].content == "You are a helpful assistant."
    assert len(sent) < len(msgs) + 1
    assert "Whiskers" in " ".join(m.content for m in sent)


async def test_middleware_async():
    from langchain.agents import create_agent

    SENT.clear()
    agent = create_agent(
        model=Recorder(),
        tools=[],
        middleware=[TokenomyMiddleware(window=small_window(max_tokens=110))],
    )
    state = await agent.ainvoke({"messages": history()[1:]})
    assert state["messages"][-1].content == "ok"
    assert len(SENT[0]) < len(history())


def test_model_stage_sends_a_passage_repeated_across_turns_once():
    SENT.clear()
    passage = "The Eiffel Tower was finished in March 1889 for the World's Fair in Paris. " * 4
    msgs = [
        HumanMessage(f"{passage}\n\nWhen was it finished?"),
        AIMessage("In 1889."),
        HumanMessage(f"{passage}\n\nWhy was it built?"),
    ]
    snapshot = copy.deepcopy(msgs)
    OptimizedChatModel(inner=Recorder(), window=small_window(max_tokens=10_000)).invoke(msgs)
    sent = SENT[0]
    assert sent[0].content == msgs[0].content  # the first occurrence stays
    assert passage.strip() not in sent[2].content and "Why was it built?" in sent[2].content
    assert "repeated from earlier" in sent[2].content
    assert msgs == snapshot


def test_trim_messages_call_shapes_are_accepted():
    from langchain_core.language_models import FakeListChatModel

    class Named(FakeListChatModel):
        model_name: str = "gpt-4o-mini"

    out = window_messages(
        history(),
        max_tokens=110,
        token_counter=Named(responses=["x"]),
        strategy="last",
        include_system=True,
        overlap_tokens=0,
        summarizer=None,
        embedder=HashingEmbedder(),
    )
    assert out[0].content == "You are a helpful assistant." and out[-1].content.endswith("?")
    assert window_messages(max_tokens=50, token_counter="gpt-4o", embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="start_on"):
        window_messages(history(), max_tokens=100, start_on="human")
    with pytest.raises(ConfigError, match="strategy"):
        window_messages(history(), max_tokens=100, strategy="first")
    with pytest.raises(ConfigError, match="token_counter must be"):
        window_messages(history(), max_tokens=100, token_counter=len)


def test_a_failing_context_stage_sends_the_messages_as_they_are(caplog):
    class BrokenEmbedder:
        name, dim = "broken", 8

        def embed(self, texts):
            raise OSError("model files missing")

    SENT.clear()
    window = ConversationWindow(max_tokens=110, overlap_tokens=0, embedder=BrokenEmbedder())
    msgs = history()
    OptimizedChatModel(inner=Recorder(), window=window).invoke(msgs)
    assert SENT[0] == msgs and "context stage failed" in caplog.text


def test_an_estimated_count_is_of_the_windowed_messages_not_the_callers():
    from langchain_tokenomy import TokenomyCallbackHandler

    handler = TokenomyCallbackHandler()
    msgs = history()
    full = TokenCounter("gpt-4o").count_messages(to_openai_messages(msgs))
    model = OptimizedChatModel(inner=Recorder(), window=small_window(max_tokens=110))
    model.invoke(msgs, config={"callbacks": [handler]})  # Recorder reports no usage
    (record,) = handler.ledger.records()
    sent = TokenCounter("gpt-4o").count_messages(to_openai_messages(SENT[-1]))
    assert not record.exact and record.input_tokens == sent < full
