"""``RoutingLLM``: each LlamaIndex call to the cheapest LLM predicted to answer it well.

Usable as ``Settings.llm`` or in any engine. Its methods carry no callback
decorators: the chosen LLM's own decorated methods report the real call once to
instrumentation and token counters. When the chosen LLM raises, times out or
overflows its context window, the others are tried, cheapest first; the choice is
in ``response.additional_kwargs["tokenomy_route"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import LLM
from pydantic import Field, PrivateAttr
from typing_extensions import override

from llama_index_tokenomy._convert import to_openai_messages
from tokenomy.errors import ConfigError
from tokenomy.route import FallbackChain, RouteDecision, Router, SpendBudget
from tokenomy.route.cascade import Attempt, astream_first, stream_first
from tokenomy.text.messages import last_user_message, message_text

__all__ = ["ROUTE_KEY", "RoutingLLM"]

ROUTE_KEY = "tokenomy_route"
T = TypeVar("T")


class RoutingLLM(LLM):
    """Routes each call among named LLMs with a :class:`tokenomy.route.Router`.

    Args:
        llms: the LLMs by name; the router's model table must name them all.
        router: decides (its table carries prices, windows, quality).
        budget: a :class:`tokenomy.route.SpendBudget` the router respects.
        timeout_s: per-LLM time limit before falling back (default None).
    """

    llms: dict[str, LLM] = Field(exclude=True)
    timeout_s: float | None = None
    _router: Router = PrivateAttr()
    _budget: SpendBudget | None = PrivateAttr(default=None)

    def __init__(
        self,
        llms: dict[str, LLM],
        router: Router,
        *,
        budget: SpendBudget | None = None,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not llms or not all(isinstance(v, LLM) for v in llms.values()):
            raise ConfigError("llms must map names to LlamaIndex LLMs (at least one).")
        router.check_names(llms)
        super().__init__(llms=llms, timeout_s=timeout_s, **kwargs)
        self._router = router
        self._budget = budget

    @classmethod
    @override
    def class_name(cls) -> str:
        return "RoutingLLM"

    @property
    def router(self) -> Router:
        return self._router

    @property
    @override
    def metadata(self) -> LLMMetadata:
        """The roomiest LLM's metadata: what the engine may send to this router."""
        widest = max(self.llms.values(), key=lambda llm: llm.metadata.context_window)
        meta = widest.metadata
        return meta.model_copy(
            update={
                "model_name": f"router({','.join(self.llms)})",
                "is_chat_model": all(llm.metadata.is_chat_model for llm in self.llms.values()),
            }
        )

    # -- routing ----------------------------------------------------------------------------

    def _order(self, text: str, tokens: int) -> tuple[RouteDecision, list[str]]:
        decision = self._router.route_or_best(text, input_tokens=tokens, budget=self._budget)
        return decision, [decision.model] + [
            m.name for m in self._router.models if m.name != decision.model and m.name in self.llms
        ]

    def _chat_order(self, messages: Sequence[ChatMessage]) -> tuple[RouteDecision, list[str]]:
        dicts = to_openai_messages(messages)
        current = last_user_message(dicts) or (dicts[-1] if dicts else None)
        text = message_text(current) if current is not None else ""
        return self._order(text, self._router.counter.count_messages(dicts))

    def _prompt_order(self, prompt: str) -> tuple[RouteDecision, list[str]]:
        return self._order(prompt, self._router.counter.count(prompt))

    def _run(
        self, order: list[str], call: Callable[[LLM], T]
    ) -> tuple[T, str, tuple[Attempt, ...]]:
        done = FallbackChain(order, timeout_s=self.timeout_s).run(lambda n: call(self.llms[n]))
        return done.answer, done.model, done.attempts

    async def _arun(
        self, order: list[str], call: Callable[[LLM], Awaitable[T]]
    ) -> tuple[T, str, tuple[Attempt, ...]]:
        done = await FallbackChain(order, timeout_s=self.timeout_s).arun(
            lambda n: call(self.llms[n])
        )
        return done.answer, done.model, done.attempts

    @staticmethod
    def _mark(
        response: Any, decision: RouteDecision, model: str, attempts: Sequence[Attempt]
    ) -> Any:
        response.additional_kwargs = {
            **(response.additional_kwargs or {}),
            ROUTE_KEY: {
                "model": model,
                "reason": decision.reason,
                "attempts": [{"model": a.model, "outcome": a.outcome} for a in attempts],
            },
        }
        return response

    # -- the LLM interface --------------------------------------------------------------------

    @override
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        decision, order = self._chat_order(messages)
        response, model, attempts = self._run(order, lambda llm: llm.chat(messages, **kwargs))
        return self._mark(response, decision, model, attempts)

    @override
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        decision, order = self._prompt_order(prompt)
        response, model, attempts = self._run(
            order, lambda llm: llm.complete(prompt, formatted=formatted, **kwargs)
        )
        return self._mark(response, decision, model, attempts)

    @override
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        decision, order = self._chat_order(messages)
        response, model, attempts = await self._arun(
            order, lambda llm: llm.achat(messages, **kwargs)
        )
        return self._mark(response, decision, model, attempts)

    @override
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        decision, order = self._prompt_order(prompt)
        response, model, attempts = await self._arun(
            order, lambda llm: llm.acomplete(prompt, formatted=formatted, **kwargs)
        )
        return self._mark(response, decision, model, attempts)

    @override
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        _, order = self._chat_order(messages)
        return stream_first(order, lambda n: self.llms[n].stream_chat(messages, **kwargs), [])

    @override
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        _, order = self._prompt_order(prompt)
        return stream_first(
            order,
            lambda n: self.llms[n].stream_complete(prompt, formatted=formatted, **kwargs),
            [],
        )

    @override
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        _, order = self._chat_order(messages)
        return _astream(order, lambda n: self.llms[n].astream_chat(messages, **kwargs))

    @override
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        _, order = self._prompt_order(prompt)
        return _astream(
            order, lambda n: self.llms[n].astream_complete(prompt, formatted=formatted, **kwargs)
        )


async def _astream(
    order: list[str], start: Callable[[str], Awaitable[AsyncIterator[T]]]
) -> AsyncIterator[T]:
    """:func:`astream_first` over LlamaIndex's ``astream_*``, which are coroutines."""

    async def opened(name: str) -> AsyncIterator[T]:
        async for item in await start(name):
            yield item

    async for item in astream_first(order, opened, []):
        yield item
