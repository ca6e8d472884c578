"""LangChain's ChatOpenAI and LlamaIndex's OpenAILike work unchanged through the
gateway: pointed at it by base URL, nothing else changes."""

from __future__ import annotations

import pytest
from gateway_support import ACME


def test_langchain_chat_openai_works_through_the_gateway(gateway, upstream):
    langchain_openai = pytest.importorskip("langchain_openai")
    model = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=gateway, api_key=ACME, max_retries=0
    )
    first = model.invoke("What is the capital of Italy?")
    again = model.invoke("What is the capital of Italy?")
    streamed = "".join(c.content for c in model.stream("Stream the capital of Spain"))
    assert first.content == again.content == "Echo: What is the capital of Italy?"
    assert streamed == "Echo: Stream the capital of Spain"
    assert upstream.total == 2  # the repeat came from the gateway's cache

    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        return "sunny"

    call = model.bind_tools([get_weather]).invoke("What is the weather in Paris?")
    assert call.tool_calls[0]["name"] == "get_weather"
    assert call.tool_calls[0]["args"] == {"city": "Paris"}


def test_llamaindex_openai_like_works_through_the_gateway(gateway, upstream):
    openai_like = pytest.importorskip("llama_index.llms.openai_like")
    from llama_index.core.llms import ChatMessage

    llm = openai_like.OpenAILike(
        model="gpt-4o-mini", api_base=gateway, api_key=ACME, is_chat_model=True, max_retries=0
    )
    answers = [llm.chat([ChatMessage(role="user", content="Capital of Peru?")]) for _ in range(2)]
    assert {a.message.content for a in answers} == {"Echo: Capital of Peru?"}
    streamed = llm.stream_chat([ChatMessage(role="user", content="Capital of Chile?")])
    assert [r.message.content for r in streamed][-1] == "Echo: Capital of Chile?"
    completion = openai_like.OpenAILike(
        model="gpt-4o-mini", api_base=gateway, api_key=ACME, max_retries=0
    ).complete("Say hello")
    assert completion.text == "Echo: Say hello"
    assert upstream.total == 3
