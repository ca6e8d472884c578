"""``OptimizedLLM``: any LlamaIndex LLM (or several, routed) behind tokenomy's request
pipeline.

Every one of LlamaIndex's eight LLM calls (``chat``, ``complete``, their ``stream_``
forms and the async twins of all four) passes the same stages: spend reservation,
cache lookup with single-flight, context (window, de-dup, compression), routing
with fallback, the call, then settle (store, charge, record). A hit replays as a
stream on the stream paths. Each response carries the call's per-stage trace in
``additional_kwargs["tokenomy_trace"]`` (and the routing decision in
``additional_kwargs["tokenomy_route"]``), the keys LangChain front doors use in
``response_metadata``.

Its methods carry no LlamaIndex callback decorators: the inner LLM's decorated
methods report each real call once to ``TokenCountingHandler`` and to
instrumentation, and a hit reports nothing there (it spent nothing); hits are
recorded as tokens saved in tokenomy's ledger instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

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

from llama_index_tokenomy._codecs import ChatCodec, CompletionCodec
from llama_index_tokenomy._convert import to_openai_messages
from llama_index_tokenomy._pipeline import (
    HitRecorder,
    llm_key,
    model_id,
    needs,
    sent_messages,
    table_for,
    tools_of,
)
from tokenomy.budget import Budget
from tokenomy.cache import SemanticCache
from tokenomy.compress import DEFAULT_MIN_TOKENS, DEFAULT_RATIO, ExtractiveCompressor
from tokenomy.context import ConversationWindow
from tokenomy.errors import ConfigError
from tokenomy.monitor import UsageRecorder
from tokenomy.output import OutputControl
from tokenomy.pipeline import (
    ContextStage,
    FrontDoor,
    Methods,
    Outbound,
    Pipeline,
    Request,
    answer_cap,
)
from tokenomy.route import Router
from tokenomy.tokens.prices import PriceTable

__all__ = ["OptimizedLLM"]


class OptimizedLLM(LLM):
    """Runs each call of ``llm`` (or of the routed ``llms``) through tokenomy's pipeline.

    Args:
        llm: the LLM doing the work (usable as ``Settings.llm`` once wrapped).
        llms: instead of ``llm``, LLMs by name, among which ``router`` picks for
            each call.
        router: a :class:`tokenomy.route.Router` whose table names ``llms``
            (default: one built from the LLMs' prices, unfitted).
        cache: a :class:`tokenomy.cache.SemanticCache` (default None: no caching).
        scope: tenant / user whose cache entries this wrapper sees (default: the
            shared scope).
        window: a :class:`tokenomy.context.ConversationWindow` fitting chat
            histories to a budget before the LLM sees them (default None).
        compressor: a :class:`tokenomy.compress.ExtractiveCompressor` for long user
            and tool messages (default None), keeping ``compress_ratio`` (default
            0.4) of each message of at least ``compress_min_tokens`` (default 800).
        budget: a :class:`tokenomy.budget.Budget`: each call reserves its
            upper-bound cost (prompt, and the LLM's ``max_tokens`` or 256 expected
            answer tokens) and settles to the actual cost; the LLM must be priced
            (``prices`` or the bundled table), or routed by a priced table.
        prices: prices for the budget (default: the bundled table).
        recorder: where hits are recorded as saved (default: the handler
            :func:`llama_index_tokenomy.enable` attached, if any).
        fallback: with ``llms``, try the others when the chosen LLM fails (default True).
        timeout_s: per-LLM time limit before falling back (default None).
        output: a :class:`tokenomy.output.OutputControl`: plans ``max_tokens`` when
            neither the call nor the LLM sets one, stops ``stream_*`` answers that
            loop or have finished their JSON (the closing chunk holds the kept text;
            ``additional_kwargs["tokenomy_trace"]["output"]`` says why), and continues
            ``chat``/``complete`` answers cut by their cap.

    Example:
        >>> from llama_index.core.llms import MockLLM
        >>> llm = OptimizedLLM(MockLLM(max_tokens=2), cache=SemanticCache(mode="exact"))
        >>> [llm.complete("2 + 2?").additional_kwargs.get("tokenomy_cache_hit") for _ in "ab"]
        [None, 'exact_cache']
    """

    llm: LLM | None = Field(default=None, exclude=True)
    llms: dict[str, LLM] | None = Field(default=None, exclude=True)
    scope: str | None = None
    compress_ratio: float = DEFAULT_RATIO
    compress_min_tokens: int = DEFAULT_MIN_TOKENS
    fallback: bool = True
    timeout_s: float | None = None
    _pipe: Pipeline[Any, Any] = PrivateAttr()

    def __init__(
        self,
        llm: LLM | None = None,
        *,
        llms: Mapping[str, LLM] | None = None,
        router: Router | None = None,
        cache: SemanticCache | None = None,
        scope: str | None = None,
        window: ConversationWindow | None = None,
        compressor: ExtractiveCompressor | None = None,
        compress_ratio: float = DEFAULT_RATIO,
        compress_min_tokens: int = DEFAULT_MIN_TOKENS,
        budget: Budget | None = None,
        prices: PriceTable | None = None,
        recorder: UsageRecorder | None = None,
        fallback: bool = True,
        timeout_s: float | None = None,
        output: OutputControl | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - set(LLM.model_fields))
        if unknown:
            raise ConfigError(f"{type(self).__name__} got unknown keyword(s): {unknown}.")
        if (llm is None) == (llms is None):
            raise ConfigError("pass either llm=<LLM> or llms={name: LLM}, exactly one.")
        if llm is not None and not isinstance(llm, LLM):
            raise ConfigError(f"llm must be a LlamaIndex LLM; got {type(llm).__name__}.")
        if llms is not None and (not llms or not all(isinstance(v, LLM) for v in llms.values())):
            raise ConfigError("llms must map names to LlamaIndex LLMs (at least one).")
        if router is not None and llms is None:
            raise ConfigError("router= routes among llms={name: LLM}; pass llms too.")
        first = llm if llm is not None else next(iter((llms or {}).values()))
        if llms is not None and router is None:
            router = Router(table_for(llms, prices=prices))
        kwargs.setdefault("callback_manager", first.callback_manager)
        super().__init__(
            llm=llm,
            llms=dict(llms) if llms is not None else None,
            scope=scope,
            compress_ratio=compress_ratio,
            compress_min_tokens=compress_min_tokens,
            fallback=fallback,
            timeout_s=timeout_s,
            **kwargs,
        )
        self._pipe = Pipeline(  # checks the cache and the router's names
            budget=budget,
            cache=cache,
            context=ContextStage(
                window=window,
                compressor=compressor,
                ratio=compress_ratio,
                min_tokens=compress_min_tokens,
            ),
            router=router,
            models=list(llms) if llms is not None else None,
            fallback=fallback,
            timeout_s=timeout_s,
            output=output,
            prices=prices,
            recorder=HitRecorder(recorder, scope),
        )
        self._pipe.check_priced(model_id(first))

    @classmethod
    @override
    def class_name(cls) -> str:
        return "OptimizedLLM"

    # -- what the pipeline holds --------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline[Any, Any]:
        """The request pipeline every call runs through (see its ``failures``)."""
        return self._pipe

    @property
    def cache(self) -> SemanticCache | None:
        return self._pipe.cache

    @property
    def router(self) -> Router | None:
        return self._pipe.router

    @property
    def budget(self) -> Budget | None:
        return self._pipe.budget

    @property
    @override
    def metadata(self) -> LLMMetadata:
        """The inner LLM's metadata; when routing, the roomiest LLM's: what the engine
        may send to this router."""
        if self.llm is not None:
            return self.llm.metadata
        llms = list((self.llms or {}).values())
        widest = max(llms, key=lambda llm: llm.metadata.context_window)
        return widest.metadata.model_copy(
            update={
                "model_name": f"router({','.join(self.llms or {})})",
                "is_chat_model": all(llm.metadata.is_chat_model for llm in llms),
            }
        )

    # -- translation ----------------------------------------------------------------------

    def _target(self, name: str | None) -> LLM:
        if self.llm is not None:
            return self.llm
        llms = self.llms or {}
        return llms[name] if name is not None else next(iter(llms.values()))

    def _llms(self) -> dict[str, LLM]:
        return {"": self.llm} if self.llm is not None else dict(self.llms or {})

    def _request(
        self,
        kind: str,
        kwargs: Mapping[str, Any],
        messages: Sequence[ChatMessage] = (),
        prompt: str | None = None,
    ) -> Request:
        tools = tools_of(kwargs)
        routed = self.llm is None
        return Request(
            messages=tuple(to_openai_messages(messages)),
            prompt=prompt,
            model=None if routed else model_id(self._target(None)),
            llm=llm_key(self.llm if self.llm is not None else self._llms(), kind, kwargs),
            tools=tools,
            max_tokens=answer_cap(kwargs.get("max_tokens"), self._caps()),
            scope=self.scope,
            require=needs(messages, tools is not None),
        )

    def _caps(self) -> list[Any]:
        """The answer caps of the LLMs a call may go to."""
        return [getattr(llm, "max_tokens", None) for llm in self._llms().values()]

    def _ids(self) -> dict[str, str | None]:
        return {name: model_id(llm) for name, llm in (self.llms or {}).items()}

    def _chat(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]
    ) -> FrontDoor[LLM, ChatResponse, ChatResponse]:
        request = self._request("chat", kwargs, messages)
        return FrontDoor(
            self._pipe,
            request,
            ChatCodec(request.model, self._ids()),
            _CHAT,
            lambda sent: Outbound(
                self._target(sent.model), (sent_messages(messages, sent),), sent.params(kwargs)
            ),
        )

    def _complete(
        self, prompt: str, formatted: bool, kwargs: Mapping[str, Any]
    ) -> FrontDoor[LLM, CompletionResponse, CompletionResponse]:
        request = self._request("complete", {**kwargs, "formatted": formatted}, prompt=prompt)
        return FrontDoor(
            self._pipe,
            request,
            CompletionCodec(request.model, self._ids()),
            _COMPLETE,
            lambda sent: Outbound(
                self._target(sent.model),
                (sent.prompt or prompt,),
                {"formatted": formatted, **sent.params(kwargs)},
            ),
        )

    # -- the eight calls ------------------------------------------------------------------

    @override
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, kwargs).run()

    @override
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._chat(messages, kwargs).arun()

    @override
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return cast(ChatResponseGen, self._chat(messages, kwargs).stream())

    @override
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return cast(ChatResponseAsyncGen, self._chat(messages, kwargs).astream())

    @override
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._complete(prompt, formatted, kwargs).run()

    @override
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await self._complete(prompt, formatted, kwargs).arun()

    @override
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return cast(CompletionResponseGen, self._complete(prompt, formatted, kwargs).stream())

    @override
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        stream = self._complete(prompt, formatted, kwargs).astream()
        return cast(CompletionResponseAsyncGen, stream)


_CHAT: Methods[LLM, ChatResponse, ChatResponse] = Methods(
    call=lambda llm: llm.chat,
    acall=lambda llm: llm.achat,
    stream=lambda llm: llm.stream_chat,
    astream=lambda llm: llm.astream_chat,
)
_COMPLETE: Methods[LLM, CompletionResponse, CompletionResponse] = Methods(
    call=lambda llm: llm.complete,
    acall=lambda llm: llm.acomplete,
    stream=lambda llm: llm.stream_complete,
    astream=lambda llm: llm.astream_complete,
)
