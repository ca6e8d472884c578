"""TokenomyEventHandler with LlamaIndex's own mock LLM (no network)."""

from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
)
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index_instrumentation.dispatcher import instrument_tags

import llama_index_tokenomy as lit
from tokenomy.tokens import count_tokens


class UsageLLM(CustomLLM):
    """Reports provider usage the way OpenAI-style integrations do."""

    where: str = "raw"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="gpt-4o-mini", is_chat_model=True)

    def _usage(self) -> dict[str, Any]:
        usage = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}
        if self.where == "raw":
            return {"raw": {"usage": usage, "model": "gpt-4o-mini-2024-07-18"}}
        return {"additional_kwargs": usage}

    @llm_chat_callback()
    def chat(self, messages, **kwargs):
        return ChatResponse(message=ChatMessage(role="assistant", content="ok"), **self._usage())

    @llm_completion_callback()
    def complete(self, prompt, formatted=False, **kwargs):
        return CompletionResponse(text="ok", **self._usage())

    @llm_completion_callback()
    def stream_complete(self, prompt, formatted=False, **kwargs):
        def gen():
            yield CompletionResponse(text="ok", delta="ok", **self._usage())

        return gen()


@pytest.fixture(autouse=True)
def _clean():
    lit.disable()
    yield
    lit.disable()


@pytest.mark.parametrize("where", ["raw", "additional_kwargs"])
def test_provider_usage_is_read(where):
    handler = lit.enable()
    UsageLLM(where=where).chat([ChatMessage(role="user", content="hello")])
    (rec,) = handler.ledger.records()
    assert (rec.input_tokens, rec.output_tokens, rec.exact) == (21, 5, True)
    assert rec.model == ("gpt-4o-mini-2024-07-18" if where == "raw" else "gpt-4o-mini")


def test_custom_llm_chat_over_complete_is_one_record():
    handler = lit.enable()
    llm = MockLLM(max_tokens=4)
    llm.chat([ChatMessage(role="user", content="hi there")])  # chat() calls complete() inside
    (rec,) = handler.ledger.records()
    assert not rec.exact
    assert rec.output_tokens == count_tokens("text text text text", model=None).tokens


def test_instrument_tags_become_record_tags():
    handler = lit.enable()
    with instrument_tags({"user": "u1", "feature": "faq"}):
        MockLLM(max_tokens=2).complete("hello")
    (rec,) = handler.ledger.records()
    assert dict(rec.tags) == {"user": "u1", "feature": "faq"}


def test_streaming_is_recorded_once_at_the_end():
    handler = lit.enable()
    chunks = list(MockLLM(max_tokens=3).stream_complete("a prompt"))
    assert chunks
    assert handler.ledger.totals().calls == 1


async def test_async_calls_are_recorded():
    handler = lit.enable()
    await MockLLM(max_tokens=2).acomplete("hello")
    await MockLLM(max_tokens=2).achat([ChatMessage(role="user", content="x")])
    assert handler.ledger.totals().calls == 2


def test_enable_twice_replaces_and_disable_detaches():
    first = lit.enable()
    second = lit.enable()
    MockLLM(max_tokens=1).complete("x")
    assert first.ledger.totals().calls == 0
    assert second.ledger.totals().calls == 1
    lit.disable()
    MockLLM(max_tokens=1).complete("x")
    assert second.ledger.totals().calls == 1


def test_handler_errors_are_logged_not_raised(caplog):
    handler = lit.TokenomyEventHandler()

    from llama_index.core.instrumentation.events.llm import LLMCompletionStartEvent

    bad = LLMCompletionStartEvent.model_construct(
        prompt="x", additional_kwargs={}, model_dict=42, span_id="s", tags={}
    )
    handler.handle(bad)  # model_dict of the wrong type: logged, not raised
    assert "could not record" in caplog.text
