"""TokenomyChatMemory in LlamaIndex chat engines."""

import copy

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import CustomLLM

from llama_index_tokenomy import TokenomyChatMemory
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
SENT: list = []  # message lists the Recorder was sent


class Recorder(CustomLLM):
    @property
    def metadata(self):
        return LLMMetadata(context_window=4096, is_chat_model=True)

    def chat(self, messages, **kwargs):
        SENT.append(list(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="ok"))

    def complete(self, prompt, formatted=False, **kwargs):
        return CompletionResponse(text="ok")

    def stream_complete(self, prompt, formatted=False, **kwargs):
        yield CompletionResponse(text="ok", delta="ok")


def history():
    msgs = [
        ChatMessage(role=MessageRole.USER, content="Hi, I need help planning my week."),
        ChatMessage(role=MessageRole.ASSISTANT, content="Sure."),
        ChatMessage(role=MessageRole.USER, content="My cat is called Whiskers."),
        ChatMessage(role=MessageRole.ASSISTANT, content="Lovely name."),
    ]
    for f in FILLER:
        msgs += [
            ChatMessage(role=MessageRole.USER, content=f),
            ChatMessage(role=MessageRole.ASSISTANT, content="I see."),
        ]
    return msgs


def memory(limit=100, **kw):
    kw.setdefault("summarizer", None)
    return TokenomyChatMemory.from_defaults(
        chat_history=history(),
        token_limit=limit,
        overlap_tokens=0,
        embedder=HashingEmbedder(),
        **kw,
    )


def test_get_keeps_what_the_pending_question_needs_and_the_store_keeps_all():
    mem = memory()
    out = mem.get(input="What is my cat called?")
    text = " ".join(m.content for m in out)
    assert "Whiskers" in text and FILLER[0] not in text
    assert out[-1].content != "What is my cat called?"  # the engine adds the question
    assert len(mem.get_all()) == len(history())


def test_initial_token_count_comes_off_the_budget():
    mem = memory(limit=200)
    roomy = mem.get(input="What is my cat called?")
    tight = mem.get(input="What is my cat called?", initial_token_count=120)
    assert len(tight) < len(roomy)


def test_chat_engine_sends_the_window_and_keeps_the_whole_history():
    SENT.clear()
    mem = memory(limit=120)
    engine = SimpleChatEngine.from_defaults(llm=Recorder(), memory=mem)
    assert str(engine.chat("What is my cat called?")) == "ok"
    sent = SENT[0]
    assert sent[-1].content == "What is my cat called?"
    assert "Whiskers" in " ".join(m.content for m in sent)
    counter = TokenCounter()
    dicts = [{"role": m.role.value, "content": m.content} for m in sent]
    assert counter.count_messages(dicts) <= 120
    assert len(mem.get_all()) == len(history()) + 2  # question and answer stored


async def test_async_chat_engine():
    SENT.clear()
    engine = SimpleChatEngine.from_defaults(llm=Recorder(), memory=memory(limit=120))
    assert str(await engine.achat("What is my cat called?")) == "ok"
    assert len(SENT[0]) < len(history()) + 1


def test_summary_message_and_no_mutation():
    given = history()
    snapshot = copy.deepcopy(given)
    window = ConversationWindow(
        max_tokens=150, overlap_tokens=0, summary_tokens=30, embedder=HashingEmbedder()
    )
    mem = TokenomyChatMemory.from_defaults(chat_history=given, window=window)
    out = mem.get(input="Where is the picnic?")
    assert out[0].role == MessageRole.SYSTEM and out[0].content.startswith(SUMMARY_PREFIX)
    assert [m.content for m in given] == [m.content for m in snapshot]


def test_defaults_and_errors():
    assert memory().window.max_tokens == 100
    assert TokenomyChatMemory.from_defaults(llm=Recorder()).window.max_tokens == 3072
    with pytest.raises(ConfigError, match="not both"):
        TokenomyChatMemory.from_defaults(window=ConversationWindow(), token_limit=10)


def test_a_passage_repeated_across_turns_is_sent_once():
    passage = "The Eiffel Tower was finished in March 1889 for the World's Fair in Paris. " * 4
    given = [
        ChatMessage(role=MessageRole.USER, content=f"{passage}\n\nWhen was it finished?"),
        ChatMessage(role=MessageRole.ASSISTANT, content="In 1889."),
        ChatMessage(role=MessageRole.USER, content=f"{passage}\n\nWhy was it built?"),
        ChatMessage(role=MessageRole.ASSISTANT, content="For the fair."),
    ]
    mem = TokenomyChatMemory.from_defaults(chat_history=given, embedder=HashingEmbedder())
    out = mem.get(input="How tall is it?")
    assert out[0].content == given[0].content
    assert "repeated from earlier" in out[2].content and "Why was it built?" in out[2].content
    assert given[2].content.startswith("The Eiffel")  # the store is untouched
    mem.dedupe = False
    assert mem.get(input="How tall is it?")[2].content == given[2].content


def test_a_failing_window_returns_the_whole_history(caplog):
    class BrokenEmbedder:
        name, dim = "broken", 8

        def embed(self, texts):
            raise OSError("model files missing")

    mem = TokenomyChatMemory.from_defaults(
        chat_history=history(), token_limit=100, overlap_tokens=0, embedder=BrokenEmbedder()
    )
    assert len(mem.get(input="What is my cat called?")) == len(history())
    assert "the window failed" in caplog.text
