"""``OptimizedChatModel``: any LangChain chat model behind tokenomy's request pipeline.

Unlike a global LLM cache, it serves cached answers to ``stream``/``astream`` too
(a hit replays as a stream), applies single-flight to concurrent identical misses
on every path, holds a spend budget, and reads the cache scope from the run's
metadata. On a miss, the context stage (a conversation window, then compression
of long messages) shapes what the inner model is sent; the cache is keyed on the
caller's own messages. Every call's per-stage trace is in
``response_metadata["tokenomy_trace"]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, model_validator
from typing_extensions import override

from langchain_tokenomy._convert import model_id_of
from langchain_tokenomy._pipeline import ChatCodec, as_dict, needs, sent_messages, session_of
from langchain_tokenomy._rebind import rebind_model
from langchain_tokenomy.cache import TokenomyCache, current_scope
from langchain_tokenomy.callbacks import note_sent
from tokenomy.budget import Budget
from tokenomy.cache import SemanticCache
from tokenomy.compress import DEFAULT_MIN_TOKENS, DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.context import ConversationWindow
from tokenomy.output import OutputControl
from tokenomy.pipeline import (
    ContextStage,
    FrontDoor,
    Methods,
    Outbound,
    Pipeline,
    Request,
    Sent,
    answer_cap,
)
from tokenomy.route import Router
from tokenomy.tokens import PriceTable

__all__ = ["OptimizedChatModel", "PipelineChatModel"]

# stream()/astream() call _stream without the run manager, so the run's metadata
# (and the cache scope in it) is handed over in this variable instead.
_run_metadata: ContextVar[dict[str, Any] | None] = ContextVar("tokenomy_run_metadata", default=None)

Manager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None


class PipelineChatModel(BaseChatModel):
    """The LangChain front door of :class:`tokenomy.pipeline.Pipeline` (a base class).

    Subclasses say which chat model answers (:meth:`_target`) and how the cache
    tells their configurations apart (:meth:`_llm_key`); everything else (budget,
    cache, single-flight, context, routing, fallback, settling) is the pipeline's.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    answer_cache: SemanticCache | None = Field(default=None, exclude=True)
    scope_key: str | None = "user"
    window: ConversationWindow | None = Field(default=None, exclude=True)
    compressor: ExtractiveCompressor | None = Field(default=None, exclude=True)
    compress_ratio: float = Field(default=DEFAULT_RATIO, gt=0.0, le=1.0)
    compress_min_tokens: int = Field(default=DEFAULT_MIN_TOKENS, ge=1)
    budget: Budget | None = Field(default=None, exclude=True)
    timeout_s: float | None = Field(default=None, gt=0.0)
    fallback: bool = True
    prices: PriceTable | None = Field(default=None, exclude=True)
    output: OutputControl | None = Field(default=None, exclude=True)
    _pipe: Pipeline[ChatResult, ChatGenerationChunk] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _take_cache(cls, data: Any) -> Any:
        """Accept ``cache=`` as our cache; LangChain's own cache machinery stays off."""
        if isinstance(data, dict) and "cache" in data:
            value = data["cache"]
            if isinstance(value, TokenomyCache):
                value = value.cache
            if isinstance(value, SemanticCache):
                data = {**data, "answer_cache": value, "cache": False}
        return data

    @model_validator(mode="after")
    def _priced(self) -> PipelineChatModel:
        """A budget needs the unrouted model's price: fail here, not at the first call."""
        if self.budget is not None:  # builds the pipeline only when there is a budget
            self.pipeline.check_priced(model_id_of(self._target(None)))
        return self

    # -- what subclasses define --------------------------------------------------------

    def _target(self, name: str | None) -> BaseChatModel:
        """The chat model that answers when the pipeline chose ``name``."""
        raise NotImplementedError

    def _llm_key(self, stop: list[str] | None, kwargs: dict[str, Any]) -> str:
        """The model configuration the cache partitions on."""
        return self._get_llm_string(stop=stop, **kwargs)

    def _router(self) -> Router | None:
        return None

    def _tools(self, kwargs: dict[str, Any]) -> list[dict[str, Any]] | None:
        tools = kwargs.get("tools")
        return list(tools) if isinstance(tools, Sequence) and tools else None

    def _kwargs_for(self, sent: Sent, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The inner model's call parameters (the planned answer cap, if any)."""
        return sent.params(kwargs)

    # -- the pipeline ------------------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline[ChatResult, ChatGenerationChunk]:
        """The request pipeline built from this model's settings (once)."""
        if self._pipe is None:
            router = self._router()
            self._pipe = Pipeline(
                budget=self.budget,
                cache=self.answer_cache,
                context=ContextStage(
                    window=self.window,
                    compressor=self.compressor,
                    ratio=self.compress_ratio,
                    min_tokens=self.compress_min_tokens,
                ),
                router=router,
                models=None if router is None else list(self._names()),
                fallback=self.fallback,
                timeout_s=self.timeout_s,
                output=self.output,
                prices=self.prices,
            )
        return self._pipe

    def _names(self) -> list[str]:
        return []

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: Manager,
        kwargs: dict[str, Any],
    ) -> Request:
        metadata = run_manager.metadata if run_manager is not None else _run_metadata.get()
        metadata = metadata or {}
        scope = metadata.get(self.scope_key) if self.scope_key else None
        tools = self._tools(kwargs)
        return Request(
            messages=tuple(as_dict(m) for m in messages),
            model=model_id_of(self._target(None)) if self._router() is None else None,
            llm=self._llm_key(stop, kwargs),
            tools=tuple(tools) if tools else None,
            max_tokens=answer_cap(kwargs.get("max_tokens")),
            scope=str(scope) if scope is not None else current_scope(),
            session=session_of(metadata),
            require=needs(messages, bool(tools)),
        )

    def _sent(
        self, messages: list[BaseMessage], sent: Sent, run_manager: Manager
    ) -> list[BaseMessage]:
        out = sent_messages(messages, sent)
        if run_manager is not None and sent.changed:
            note_sent(run_manager, out)  # an estimated count is of what was sent
        return out

    def _door(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: Manager,
        kwargs: dict[str, Any],
    ) -> FrontDoor[BaseChatModel, ChatResult, ChatGenerationChunk]:
        request = self._request(messages, stop, run_manager, kwargs)

        def outbound(sent: Sent) -> Outbound:
            model = self._target(sent.model)
            sending = self._sent(messages, sent, run_manager)
            options = {"stop": stop, "run_manager": run_manager, **self._kwargs_for(sent, kwargs)}
            return Outbound(model, (sending,), options)

        return FrontDoor(self.pipeline, request, ChatCodec(request.llm), _METHODS, outbound)

    # -- calls -------------------------------------------------------------------------

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._door(messages, stop, run_manager, kwargs).run()

    @override
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await self._door(messages, stop, run_manager, kwargs).arun()

    @override
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._door(messages, stop, run_manager, kwargs).stream()

    @override
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in self._door(messages, stop, run_manager, kwargs).astream():
            yield chunk

    # -- streaming entry points carry the run's metadata to _stream ---------------------

    @override
    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        token = _run_metadata.set(dict(ensure_config(config).get("metadata") or {}))
        try:
            yield from super().stream(input, config, stop=stop, **kwargs)
        finally:
            _reset(token)

    @override
    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        token = _run_metadata.set(dict(ensure_config(config).get("metadata") or {}))
        try:
            async for chunk in super().astream(input, config, stop=stop, **kwargs):
                yield chunk
        finally:
            _reset(token)


def _streams(model: BaseChatModel) -> bool:
    return type(model)._stream is not BaseChatModel._stream


def _astreams(model: BaseChatModel) -> bool:
    """Whether ``model`` streams asynchronously (LangChain's own ``_astream`` runs a
    sync ``_stream`` in a thread)."""
    return type(model)._astream is not BaseChatModel._astream or _streams(model)


# a model that cannot stream answers a streaming caller whole, replayed by the pipeline
_METHODS: Methods[BaseChatModel, ChatResult, ChatGenerationChunk] = Methods(
    call=lambda model: model._generate,
    acall=lambda model: model._agenerate,
    stream=lambda model: model._stream if _streams(model) else None,
    astream=lambda model: model._astream if _astreams(model) else None,
)


def _reset(token: Any) -> None:
    with contextlib.suppress(ValueError):  # closed from another context: nothing leaks there
        _run_metadata.reset(token)


class OptimizedChatModel(PipelineChatModel):
    """Wraps ``inner`` and runs each call through tokenomy's request pipeline.

    Args:
        inner: the chat model doing the work (``ChatOpenAI(...)``, …).
        cache: a :class:`tokenomy.cache.SemanticCache` or a
            :class:`~langchain_tokenomy.TokenomyCache` (default None: no caching).
        scope_key: run-metadata key whose value scopes cache entries (default
            ``"user"``: ``config={"metadata": {"user": "alice"}}`` keeps alice's
            answers hers); falls back to :func:`~langchain_tokenomy.cache_scope`.
        window: a :class:`tokenomy.context.ConversationWindow` fitting the history
            to a budget before the inner model sees it (default None). The
            conversation id comes from the run metadata's ``session_id`` or
            ``thread_id``.
        compressor: a :class:`tokenomy.compress.ExtractiveCompressor` for long
            human and tool messages (default None), keeping ``compress_ratio``
            (default 0.4) of each message of at least ``compress_min_tokens``
            (default 800) tokens; the question (the last paragraph of the last
            human message) is always kept.
        budget: a :class:`tokenomy.budget.Budget`; each call reserves its
            upper-bound cost (the inner model must be priced: a known ``model``
            name) and settles to the actual cost.
        timeout_s: time limit of the inner call (default None).
        prices: the :class:`tokenomy.PriceTable` the budget prices calls with
            (default: the bundled one; add your own models with ``with_prices``).
        output: a :class:`tokenomy.output.OutputControl`: plans ``max_tokens`` when
            the call sets none, stops streams that loop or have finished their JSON
            (``response_metadata["tokenomy_trace"]["output"]`` says why and how many
            characters to keep), and continues answers cut by their cap.

    ``bind_tools`` and ``with_structured_output`` go through the inner model's own
    formatting, and the inner model's name is reported as ``ls_model_name``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from tokenomy.cache import SemanticCache
        >>> model = OptimizedChatModel(inner=FakeListChatModel(responses=["4", "5"]),
        ...                            cache=SemanticCache(mode="exact"))
        >>> [model.invoke("2 + 2?").content for _ in range(2)]
        ['4', '4']
    """

    inner: BaseChatModel

    @property
    @override
    def _llm_type(self) -> str:
        return f"tokenomy-optimized:{self.inner._llm_type}"

    @property
    @override
    def _identifying_params(self) -> dict[str, Any]:
        return {"inner": self.inner._identifying_params}

    @override
    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self.inner._get_ls_params(stop=stop, **kwargs)

    @override
    def _target(self, name: str | None) -> BaseChatModel:
        return self.inner

    @override
    def _llm_key(self, stop: list[str] | None, kwargs: dict[str, Any]) -> str:
        return self.inner._get_llm_string(stop=stop, **kwargs)

    # -- tools and structured output go through the inner model's formatting ---------

    @override
    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        bound = self.inner.bind_tools(tools, tool_choice=tool_choice, **kwargs)
        return RunnableBinding(bound=self, kwargs=dict(getattr(bound, "kwargs", {})))

    @override
    def with_structured_output(
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        rebound = rebind_model(
            self.inner.with_structured_output(schema, include_raw=include_raw, **kwargs),
            self.inner,
            self,
        )
        if rebound is not None:
            return rebound
        return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
