"""Model routing for LangChain: a routing chat model and an agent middleware.

``RoutingChatModel(models={"small": ..., "large": ...}, router=...)`` sends each
call to the model :class:`tokenomy.route.Router` picks, falls back along the
others (cheapest first) when that model raises, times out or overflows its
context window, and reports the choice in ``response_metadata["tokenomy_route"]``.
Tools are formatted by each model's own ``bind_tools`` at call time, so one
``bind_tools`` / ``with_structured_output`` works whichever model answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict, Field, model_validator
from typing_extensions import override

from langchain_tokenomy._convert import model_id_of, to_openai_messages
from tokenomy.errors import ConfigError
from tokenomy.route import (
    FallbackChain,
    ModelSpec,
    ModelTable,
    RouteDecision,
    Router,
    SpendBudget,
)
from tokenomy.route.cascade import Attempt, astream_first, stream_first
from tokenomy.route.models import DEFAULT_QUALITY
from tokenomy.text.messages import last_user_message, message_text
from tokenomy.tokens.counter import TokenCounter
from tokenomy.tokens.prices import PriceTable

__all__ = ["ROUTE_KEY", "RoutingChatModel", "TokenomyRoutingMiddleware", "table_for"]

ROUTE_KEY = "tokenomy_route"
"""``response_metadata`` key holding the routing decision of a call."""
_TOOLS = "_tokenomy_tools"


def table_for(
    models: Mapping[str, BaseChatModel], *, prices: PriceTable | None = None
) -> ModelTable:
    """A model table for LangChain models, priced by their ``model`` / ``model_name``."""
    table = prices or PriceTable.default()
    specs = []
    for name, model in models.items():
        model_id = model_id_of(model)
        price = table.get(model_id)
        if price is None:
            raise ConfigError(
                f"no price for model {name!r} ({model_id!r}); pass "
                "router=Router(ModelTable([ModelSpec(...), ...])) to describe it."
            )
        specs.append(ModelSpec.from_price(name, price, DEFAULT_QUALITY.get(price.model, 0.7)))
    return ModelTable(specs)


class _Request:
    """What the router needs to know about one call."""

    def __init__(self, counter: TokenCounter, messages: list[BaseMessage], kwargs: dict[str, Any]):
        dicts = to_openai_messages(messages)
        current = last_user_message(dicts) or (dicts[-1] if dicts else None)
        self.text = message_text(current) if current is not None else ""
        self.tokens = counter.count_messages(dicts)
        self.require = {"tools"} if kwargs.get(_TOOLS) else set()
        if any(
            isinstance(m.content, list)
            and any(
                isinstance(b, dict) and b.get("type") in ("image", "image_url") for b in m.content
            )
            for m in messages
        ):
            self.require.add("vision")


class RoutingChatModel(BaseChatModel):
    """Sends each call to the cheapest model predicted to answer it well.

    Args:
        models: the chat models by name.
        router: a :class:`tokenomy.route.Router` whose table names these models
            (default: one built from the models' prices, unfitted).
        budget: a :class:`tokenomy.route.SpendBudget`, charged after each call.
        timeout_s: per-model time limit before falling back (default None).
        fallback: try the other models when the chosen one fails (default True).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from tokenomy.route import ModelSpec, ModelTable, Router
        >>> table = ModelTable([ModelSpec("small", 0.1, 0.4, quality=0.65),
        ...                     ModelSpec("large", 2.5, 10, quality=0.85)])
        >>> llm = RoutingChatModel(models={"small": FakeListChatModel(responses=["Paris"]),
        ...                                "large": FakeListChatModel(responses=["Paris!"])},
        ...                        router=Router(table, quality_target=0.6))
        >>> reply = llm.invoke("What is the capital of France?")
        >>> reply.content, reply.response_metadata["tokenomy_route"]["model"]
        ('Paris', 'small')
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    models: dict[str, BaseChatModel]
    router: Router | None = Field(default=None, exclude=True)
    budget: SpendBudget | None = Field(default=None, exclude=True)
    timeout_s: float | None = None
    fallback: bool = True

    @model_validator(mode="after")
    def _check(self) -> RoutingChatModel:
        if not self.models:
            raise ConfigError("RoutingChatModel needs at least one model.")
        if self.router is None:
            self.router = Router(table_for(self.models))
        self.router.check_names(self.models)
        return self

    @property
    @override
    def _llm_type(self) -> str:
        return "tokenomy-routing"

    @property
    @override
    def _identifying_params(self) -> dict[str, Any]:
        return {"models": {n: m._identifying_params for n, m in self.models.items()}}

    @override
    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "tokenomy"
        override = kwargs.get("model")
        params["ls_model_name"] = (
            override if isinstance(override, str) else f"router({','.join(self.models)})"
        )  # the model that answered is in response_metadata[ROUTE_KEY]
        return params

    # -- tools: formatted by whichever model answers ------------------------------------

    @override
    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return RunnableBinding(bound=self, kwargs={_TOOLS: (list(tools), tool_choice, kwargs)})

    def _kwargs_for(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in kwargs.items() if k != _TOOLS}
        bound = kwargs.get(_TOOLS)
        if bound:
            tools, tool_choice, extra = bound
            binding = self.models[name].bind_tools(tools, tool_choice=tool_choice, **extra)
            out.update(getattr(binding, "kwargs", {}))
        return out

    # -- routing ------------------------------------------------------------------------------

    def _decide(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[RouteDecision, list[str]]:
        assert self.router is not None
        request = _Request(self.router.counter, messages, kwargs)
        decision = self.router.route_or_best(
            request.text,
            input_tokens=request.tokens,
            require=request.require,
            budget=self.budget,
        )
        order = [decision.model]
        if self.fallback:
            order += [m.name for m in self.router.models if m.name != decision.model]
        return decision, order

    def _finish(
        self, result: ChatResult, decision: RouteDecision, attempts: Sequence[Attempt], model: str
    ) -> ChatResult:
        assert self.router is not None
        spec = self.router.models[model]
        meta = _route_metadata(decision, attempts, model)
        for generation in result.generations:
            message = generation.message
            message.response_metadata = {**message.response_metadata, ROUTE_KEY: meta}
            usage = getattr(message, "usage_metadata", None)
            if self.budget is not None and usage:
                self.budget.charge(spec.cost_usd(usage["input_tokens"], usage["output_tokens"]))
        return result

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        decision, order = self._decide(messages, kwargs)
        chain = FallbackChain(order, timeout_s=self.timeout_s)
        done = chain.run(
            lambda name: self.models[name]._generate(
                messages, stop=stop, run_manager=run_manager, **self._kwargs_for(name, kwargs)
            )
        )
        return self._finish(done.answer, decision, done.attempts, done.model)

    @override
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        decision, order = self._decide(messages, kwargs)
        chain = FallbackChain(order, timeout_s=self.timeout_s)
        done = await chain.arun(
            lambda name: self.models[name]._agenerate(
                messages, stop=stop, run_manager=run_manager, **self._kwargs_for(name, kwargs)
            )
        )
        return self._finish(done.answer, decision, done.attempts, done.model)

    @override
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        decision, order = self._decide(messages, kwargs)
        attempts: list[Attempt] = []
        yield from stream_first(
            order,
            lambda name: self.models[name]._stream(
                messages, stop=stop, run_manager=run_manager, **self._kwargs_for(name, kwargs)
            ),
            attempts,
        )
        yield self._route_chunk(decision, attempts, attempts[-1].model)

    @override
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        decision, order = self._decide(messages, kwargs)
        attempts: list[Attempt] = []
        async for chunk in astream_first(
            order,
            lambda name: self.models[name]._astream(
                messages, stop=stop, run_manager=run_manager, **self._kwargs_for(name, kwargs)
            ),
            attempts,
        ):
            yield chunk
        yield self._route_chunk(decision, attempts, attempts[-1].model)

    def _route_chunk(
        self, decision: RouteDecision, attempts: Sequence[Attempt], name: str
    ) -> ChatGenerationChunk:
        meta = _route_metadata(decision, attempts, name)
        return ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata={ROUTE_KEY: meta})
        )


def _route_metadata(
    decision: RouteDecision, attempts: Sequence[Attempt], model: str
) -> dict[str, Any]:
    return {
        "model": model,
        "reason": decision.reason,
        "success": dict(decision.success),
        "attempts": [
            {"model": a.model, "outcome": a.outcome, "detail": a.detail} for a in attempts
        ],
    }


class TokenomyRoutingMiddleware(AgentMiddleware[Any, Any, Any]):
    """Routes each model call of a ``create_agent`` agent, with fallback on failure.

    Args:
        models: the chat models by name; the agent's own model is not used.
        router: as for :class:`RoutingChatModel` (default: built from the prices).
        budget: a :class:`tokenomy.route.SpendBudget`.
    """

    def __init__(
        self,
        models: Mapping[str, BaseChatModel],
        *,
        router: Router | None = None,
        budget: SpendBudget | None = None,
    ) -> None:
        super().__init__()
        self.models = dict(models)
        self.router = router or Router(table_for(self.models))
        self.router.check_names(self.models)
        self.budget = budget

    def _order(self, request: ModelRequest[Any]) -> list[str]:
        messages = list(request.messages)
        kwargs = {_TOOLS: True} if request.tools else {}
        req = _Request(self.router.counter, messages, kwargs)
        decision = self.router.route_or_best(
            req.text, input_tokens=req.tokens, require=req.require, budget=self.budget
        )
        return [decision.model] + [m.name for m in self.router.models if m.name != decision.model]

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> Any:
        chain = FallbackChain(self._order(request))
        return chain.run(lambda name: handler(request.override(model=self.models[name]))).answer

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        chain = FallbackChain(self._order(request))
        done = await chain.arun(lambda name: handler(request.override(model=self.models[name])))
        return done.answer
