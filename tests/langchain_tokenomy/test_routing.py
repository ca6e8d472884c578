"""RoutingChatModel and TokenomyRoutingMiddleware with fake models (some failing)."""

import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableBinding
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from langchain_tokenomy import RoutingChatModel, TokenomyRoutingMiddleware
from langchain_tokenomy.routing import ROUTE_KEY, table_for
from tokenomy.budget import SpendBudget
from tokenomy.errors import AllModelsFailedError, ConfigError
from tokenomy.route import ModelSpec, ModelTable, Router

TABLE = ModelTable(
    [
        ModelSpec(
            "small",
            0.15,
            0.6,
            context_window=2_000,
            quality=0.65,
            capabilities=frozenset({"tools"}),
        ),
        ModelSpec(
            "large",
            2.5,
            10.0,
            context_window=128_000,
            quality=0.85,
            capabilities=frozenset({"tools"}),
        ),
    ]
)
EASY = "What is the capital of France?"
HARD = "Prove step by step that there are infinitely many primes, and derive 3 * 7 + 2 = 23."


class Fake(BaseChatModel):
    """Answers with its name; can fail, stall, or call the first bound tool."""

    name_: str
    fail: str | None = None  # "error", "overflow", "slow"
    calls: list = Field(default_factory=list)

    @property
    def _llm_type(self):
        return "fake"

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        formatted = [convert_to_openai_tool(t) | {"by": self.name_} for t in tools]
        return RunnableBinding(bound=self, kwargs={"tools": formatted})

    def _answer(self, kwargs: dict[str, Any]) -> ChatResult:
        self.calls.append(kwargs)
        if self.fail == "error":
            raise RuntimeError("503 service unavailable")
        if self.fail == "overflow":
            raise ValueError("This model's maximum context length is 2000 tokens")
        if self.fail == "slow":
            time.sleep(1)
        tools = kwargs.get("tools")
        if tools:
            call = {"name": tools[0]["function"]["name"], "args": {"city": "Oslo"}, "id": "c1"}
            message = AIMessage("", tool_calls=[call])
        else:
            message = AIMessage(
                f"from {self.name_}",
                usage_metadata={"input_tokens": 1000, "output_tokens": 100, "total_tokens": 1100},
            )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return self._answer(kwargs)


def routing(small=None, large=None, **kw):
    models = {"small": small or Fake(name_="small"), "large": large or Fake(name_="large")}
    kw.setdefault("router", Router(TABLE, quality_target=0.6))
    return RoutingChatModel(models=models, **kw)


def test_easy_goes_small_hard_goes_large_with_the_choice_reported():
    llm = routing()
    for _ in range(4):  # outcomes learned online (feedback, cascade escalations)
        llm.router.update(HARD, "small", False)
        llm.router.update(HARD, "large", True)
    easy, hard = llm.invoke(EASY), llm.invoke(HARD)
    assert (easy.content, hard.content) == ("from small", "from large")
    route = easy.response_metadata[ROUTE_KEY]
    assert route["model"] == "small" and "cheapest" in route["reason"]
    assert route["attempts"] == [{"model": "small", "outcome": "ok", "detail": ""}]


@pytest.mark.parametrize("failure", ["error", "overflow"])
def test_a_failing_model_never_fails_the_call(failure):
    llm = routing(small=Fake(name_="small", fail=failure))
    reply = llm.invoke(EASY)
    assert reply.content == "from large"
    outcomes = [a["outcome"] for a in reply.response_metadata[ROUTE_KEY]["attempts"]]
    assert outcomes == [failure, "ok"]


def test_timeout_falls_back():
    reply = routing(small=Fake(name_="small", fail="slow"), timeout_s=0.2).invoke(EASY)
    assert reply.content == "from large"


def test_every_model_failing_raises_with_the_attempts():
    llm = routing(small=Fake(name_="small", fail="error"), large=Fake(name_="large", fail="error"))
    with pytest.raises(AllModelsFailedError, match=r"small: error.*large: error"):
        llm.invoke(EASY)


def test_long_requests_go_to_a_model_whose_window_fits():
    reply = routing().invoke(EASY + " filler" * 3000)
    assert reply.response_metadata[ROUTE_KEY]["model"] == "large"


def test_tools_are_formatted_by_the_chosen_model():
    def forecast(city: str) -> str:
        """Weather forecast for a city."""
        return "rain"

    small = Fake(name_="small")
    reply = routing(small=small).bind_tools([forecast]).invoke(EASY)
    assert reply.tool_calls[0]["name"] == "forecast"
    assert small.calls[-1]["tools"][0]["by"] == "small"


def test_structured_output_through_the_routed_model():
    class City(BaseModel):
        city: str

    result = routing().with_structured_output(City).invoke(EASY)
    assert result == City(city="Oslo")


def test_streaming_falls_back_before_the_first_chunk():
    small = GenericFakeChatModel(messages=iter([]))  # raises StopIteration-like error on use
    large = GenericFakeChatModel(messages=iter([AIMessage("streamed from large")]))
    llm = RoutingChatModel(
        models={"small": small, "large": large}, router=Router(TABLE, quality_target=0.6)
    )
    chunks = list(llm.stream(EASY))
    assert "".join(c.content for c in chunks) == "streamed from large"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.response_metadata[ROUTE_KEY]["model"] == "large"


async def test_async_and_budget_charging():
    budget = SpendBudget(1.0)
    llm = routing(budget=budget)
    reply = await llm.ainvoke(EASY)
    assert reply.content == "from small"
    assert budget.spent_usd == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    reply = await routing(small=Fake(name_="small", fail="error")).ainvoke(EASY)
    assert reply.content == "from large"


def test_configuration_errors():
    with pytest.raises(ValueError, match="no entry for"):  # pydantic wraps our ConfigError
        RoutingChatModel(models={"tiny": Fake(name_="tiny")}, router=Router(TABLE))
    with pytest.raises(ConfigError, match="no price for model 'x'"):
        table_for({"x": Fake(name_="x")})

    class Priced(Fake):
        model_name: str = "gpt-4o-mini"

    table = table_for({"mini": Priced(name_="mini")})
    assert table["mini"].input_price == 0.15 and table["mini"].quality == 0.65


def test_middleware_routes_each_agent_call_with_fallback():
    from langchain.agents import create_agent

    small, large = Fake(name_="small", fail="error"), Fake(name_="large")
    agent = create_agent(
        model=Fake(name_="unused"),
        tools=[],
        middleware=[
            TokenomyRoutingMiddleware(
                {"small": small, "large": large}, router=Router(TABLE, quality_target=0.6)
            )
        ],
    )
    state = agent.invoke({"messages": [HumanMessage(EASY)]})
    assert state["messages"][-1].content == "from large"
    assert len(small.calls) == 1 and len(large.calls) == 1


def test_as_the_routing_stage_of_optimized_chat_model():
    from langchain_tokenomy import OptimizedChatModel
    from tokenomy.cache import SemanticCache

    small = Fake(name_="small")
    model = OptimizedChatModel(inner=routing(small=small), cache=SemanticCache(mode="exact"))
    first, second = model.invoke(EASY), model.invoke(EASY)
    assert first.content == second.content == "from small"
    assert len(small.calls) == 1  # the cache answers before routing
    assert first.response_metadata[ROUTE_KEY]["model"] == "small"


def test_a_failing_router_sends_to_the_highest_quality_model():
    class Broken(Router):
        def route(self, prompt, **options):
            raise OSError("embedding model files missing")

    llm = RoutingChatModel(
        models={"small": Fake(name_="small"), "large": Fake(name_="large")}, router=Broken(TABLE)
    )
    reply = llm.invoke(EASY)
    assert reply.content == "from large"
    assert "routing failed" in reply.response_metadata[ROUTE_KEY]["reason"]
