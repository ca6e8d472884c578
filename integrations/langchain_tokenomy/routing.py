"""Model routing for LangChain: a chat model that routes each call (the agent
middleware is :class:`~langchain_tokenomy.TokenomyRoutingMiddleware`).

``RoutingChatModel(models={"small": ..., "large": ...}, router=...)`` sends each
call to the model :class:`tokenomy.route.Router` picks, falls back along the
others (cheapest first) when that model raises, times out or overflows its
context window, and reports the choice in ``response_metadata["tokenomy_route"]``.
Tools are formatted by each model's own ``bind_tools`` at call time, so one
``bind_tools`` / ``with_structured_output`` works whichever model answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, model_validator
from typing_extensions import override

from langchain_tokenomy._convert import model_id_of
from langchain_tokenomy._pipeline import ROUTE_KEY
from langchain_tokenomy.chat_model import PipelineChatModel
from tokenomy.errors import ConfigError
from tokenomy.pipeline import Sent
from tokenomy.route import ModelTable, Router
from tokenomy.tokens.prices import PriceTable

__all__ = ["ROUTE_KEY", "RoutingChatModel", "table_for"]

_TOOLS = "_tokenomy_tools"


def table_for(
    models: Mapping[str, BaseChatModel], *, prices: PriceTable | None = None
) -> ModelTable:
    """A model table for LangChain models, priced by their ``model`` / ``model_name``."""
    ids = {name: model_id_of(model) for name, model in models.items()}
    return ModelTable.from_model_ids(ids, prices=prices)


class RoutingChatModel(PipelineChatModel):
    """Sends each call to the cheapest model predicted to answer it well.

    The call runs through tokenomy's request pipeline, so the cache, context and
    budget options of :class:`~langchain_tokenomy.OptimizedChatModel` apply here
    too; the choice is in ``response_metadata["tokenomy_route"]``.

    Args:
        models: the chat models by name.
        router: a :class:`tokenomy.route.Router` whose table names these models
            (default: one built from the models' prices, unfitted).
        budget: a :class:`tokenomy.budget.Budget`: each call reserves its
            upper-bound cost and settles to the actual cost; when it runs low the
            router picks cheaper models.
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

    models: dict[str, BaseChatModel]
    router: Router | None = Field(default=None, exclude=True)

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

    @override
    def _target(self, name: str | None) -> BaseChatModel:
        return self.models[name] if name is not None else next(iter(self.models.values()))

    @override
    def _router(self) -> Router | None:
        return self.router

    @override
    def _names(self) -> list[str]:
        return list(self.models)

    # -- tools: formatted by whichever model answers ------------------------------------

    @override
    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return RunnableBinding(bound=self, kwargs={_TOOLS: (list(tools), tool_choice, kwargs)})

    @override
    def _tools(self, kwargs: dict[str, Any]) -> list[dict[str, Any]] | None:
        bound = kwargs.get(_TOOLS)
        return [convert_to_openai_tool(t) for t in bound[0]] if bound else None

    @override
    def _kwargs_for(self, sent: Sent, kwargs: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in super()._kwargs_for(sent, kwargs).items() if k != _TOOLS}
        bound = kwargs.get(_TOOLS)
        if bound and sent.model is not None:
            tools, tool_choice, extra = bound
            binding = self.models[sent.model].bind_tools(tools, tool_choice=tool_choice, **extra)
            out.update(getattr(binding, "kwargs", {}))
        return out
