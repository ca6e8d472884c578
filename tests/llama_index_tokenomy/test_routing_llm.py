"""RoutingLLM in LlamaIndex, with failing fake LLMs."""

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import CustomLLM

from llama_index_tokenomy import RoutingLLM
from llama_index_tokenomy.routing_llm import ROUTE_KEY
from tokenomy.errors import AllModelsFailedError, ConfigError
from tokenomy.route import ModelSpec, ModelTable, Router

TABLE = ModelTable(
    [
        ModelSpec("small", 0.15, 0.6, context_window=2_000, quality=0.65),
        ModelSpec("large", 2.5, 10.0, context_window=128_000, quality=0.85),
    ]
)
EASY = "What is the capital of France?"
HARD = "Prove step by step that there are infinitely many primes, and derive 3 * 7 + 2 = 23."


class Fake(CustomLLM):
    label: str
    fail: bool = False
    window: int = 4096

    @property
    def metadata(self):
        return LLMMetadata(context_window=self.window, is_chat_model=True, model_name=self.label)

    def complete(self, prompt, formatted=False, **kwargs):
        if self.fail:
            raise RuntimeError("503 unavailable")
        return CompletionResponse(text=f"from {self.label}")

    def stream_complete(self, prompt, formatted=False, **kwargs):
        if self.fail:
            raise RuntimeError("503 unavailable")
        yield CompletionResponse(text=f"from {self.label}", delta=f"from {self.label}")

    def chat(self, messages, **kwargs):
        if self.fail:
            raise RuntimeError("503 unavailable")
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=f"from {self.label}")
        )


def routing(small_fails=False, large_fails=False):
    llms = {
        "small": Fake(label="small", fail=small_fails),
        "large": Fake(label="large", fail=large_fails, window=128_000),
    }
    return RoutingLLM(llms, Router(TABLE, quality_target=0.6))


def test_complete_and_chat_route_by_difficulty():
    llm = routing()
    assert llm.complete(EASY).text == "from small"
    for _ in range(4):  # outcomes learned online (feedback, cascade escalations)
        llm.router.update(HARD, "small", False)
        llm.router.update(HARD, "large", True)
    assert llm.complete(HARD).text == "from large"
    reply = llm.chat([ChatMessage(role=MessageRole.USER, content=EASY)])
    assert reply.message.content == "from small"
    assert reply.additional_kwargs[ROUTE_KEY]["model"] == "small"
    assert llm.metadata.context_window == 128_000


def test_failures_fall_back_and_all_failing_raises():
    llm = routing(small_fails=True)
    response = llm.complete(EASY)
    assert response.text == "from large"
    assert [a["outcome"] for a in response.additional_kwargs[ROUTE_KEY]["attempts"]] == [
        "error",
        "ok",
    ]
    assert "".join(r.delta for r in llm.stream_complete(EASY)) == "from large"
    with pytest.raises(AllModelsFailedError):
        routing(small_fails=True, large_fails=True).complete(EASY)


async def test_async_paths():
    llm = routing(small_fails=True)
    assert (await llm.acomplete(EASY)).text == "from large"
    reply = await llm.achat([ChatMessage(role=MessageRole.USER, content=EASY)])
    assert reply.message.content == "from large"
    chunks = [
        c async for c in await llm.astream_chat([ChatMessage(role=MessageRole.USER, content=EASY)])
    ]
    assert chunks[-1].message.content == "from large"


def test_in_a_query_engine():
    index = VectorStoreIndex.from_documents(
        [Document(text="Paris is the capital of France.")], embed_model=MockEmbedding(embed_dim=8)
    )
    engine = index.as_query_engine(llm=routing(small_fails=True))
    assert str(engine.query(EASY)) == "from large"


def test_configuration_errors():
    with pytest.raises(ConfigError, match="no entry for"):
        RoutingLLM({"tiny": Fake(label="tiny")}, Router(TABLE))
    with pytest.raises(ConfigError, match="LlamaIndex LLMs"):
        RoutingLLM({}, Router(TABLE))
