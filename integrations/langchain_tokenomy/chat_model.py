"""``OptimizedChatModel``: any LangChain chat model behind tokenomy's stages.

Unlike a global LLM cache, it serves cached answers to ``stream``/``astream`` too
(a hit replays as a stream), applies single-flight to concurrent identical misses,
and reads the cache scope from the run's metadata. On a miss, the context stage
(a conversation window, then compression of long messages) shapes what the inner
model is sent; the cache is keyed on the caller's own messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, ensure_config
from pydantic import ConfigDict, Field, model_validator
from typing_extensions import override

from langchain_tokenomy._cache_convert import (
    answer_from_generations,
    generations_from_payload,
)
from langchain_tokenomy._convert import CACHE_HIT_KEY, to_openai_messages
from langchain_tokenomy._rebind import rebind_model
from langchain_tokenomy.cache import TokenomyCache, current_scope, technique
from langchain_tokenomy.callbacks import note_sent
from langchain_tokenomy.window import SESSION_KEYS, ContextStage
from tokenomy.cache import CacheHit, SemanticCache
from tokenomy.compress import ExtractiveCompressor
from tokenomy.context import ConversationWindow

__all__ = ["OptimizedChatModel"]

_SHARED = "single_flight"

# stream()/astream() call _stream without the run manager, so the run's metadata
# (and the cache scope in it) is handed over in this variable instead.
_run_metadata: ContextVar[dict[str, Any] | None] = ContextVar("tokenomy_run_metadata", default=None)


class _Request:
    """What the cache needs to know about one call."""

    __slots__ = ("flight_key", "llm", "messages", "scope", "tools")

    def __init__(
        self,
        model: OptimizedChatModel,
        messages: list[BaseMessage],
        stop: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        self.messages = to_openai_messages(messages)
        self.llm = model.inner._get_llm_string(stop=stop, **kwargs)
        tools = kwargs.get("tools")
        self.tools = list(tools) if isinstance(tools, Sequence) and tools else None
        metadata = metadata if metadata is not None else _run_metadata.get()
        scope = (metadata or {}).get(model.scope_key) if model.scope_key else None
        self.scope = str(scope) if scope is not None else current_scope()
        cache = model.answer_cache
        key = cache.key(self.messages, **self.where()) if cache is not None else None
        self.flight_key = None if key is None else (key.partition, key.exact)

    def where(self) -> dict[str, Any]:
        """The cache's partition arguments for this call (``llm``, ``scope``, ``tools``)."""
        return {"llm": self.llm, "scope": self.scope, "tools": self.tools}


class OptimizedChatModel(BaseChatModel):
    """Wraps ``inner`` and serves repeated questions from tokenomy's cache.

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
            human and tool messages (default None), keeping ``compress_ratio`` of
            each message of at least ``compress_min_tokens`` tokens; the question
            (the last paragraph of the last human message) is always kept.

    ``bind_tools`` and ``with_structured_output`` go through the inner model's own
    formatting, and the chosen model name is reported as ``ls_model_name``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from tokenomy.cache import SemanticCache
        >>> model = OptimizedChatModel(inner=FakeListChatModel(responses=["4", "5"]),
        ...                            cache=SemanticCache(mode="exact"))
        >>> [model.invoke("2 + 2?").content for _ in range(2)]
        ['4', '4']
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    answer_cache: SemanticCache | None = Field(default=None, exclude=True)
    scope_key: str | None = "user"
    window: ConversationWindow | None = Field(default=None, exclude=True)
    compressor: ExtractiveCompressor | None = Field(default=None, exclude=True)
    compress_ratio: float = Field(default=0.4, gt=0.0, le=1.0)
    compress_min_tokens: int = Field(default=800, ge=1)

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

    # -- the context stage -------------------------------------------------------------

    def _stage(self) -> ContextStage:
        return ContextStage(
            window=self.window,
            compressor=self.compressor,
            ratio=self.compress_ratio,
            min_tokens=self.compress_min_tokens,
        )

    def _sent(
        self,
        messages: list[BaseMessage],
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> list[BaseMessage]:
        """What the inner model is sent: the window and compression applied."""
        stage = self._stage()
        if not stage.active:
            return messages
        metadata = run_manager.metadata if run_manager else _run_metadata.get()
        session = next(
            (str(v) for k in SESSION_KEYS if (v := (metadata or {}).get(k)) is not None), None
        )
        tools = kwargs.get("tools")
        sent = stage.prepare(
            messages, tools=tools if isinstance(tools, Sequence) else None, session=session
        )
        if run_manager is not None and sent is not messages:
            note_sent(run_manager, sent)  # an estimated count is of what was sent
        return sent

    async def _asent(
        self,
        messages: list[BaseMessage],
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> list[BaseMessage]:
        if not self._stage().active:
            return messages
        return await asyncio.to_thread(self._sent, messages, run_manager, kwargs)

    # -- calls -------------------------------------------------------------------------

    def _hit_result(self, hit: CacheHit) -> ChatResult:
        return ChatResult(generations=generations_from_payload(hit.payload, technique(hit)))

    def _store(self, request: _Request, generations: Sequence[ChatGeneration]) -> None:
        if self.answer_cache is not None:
            answer = answer_from_generations(list(generations), request.llm)
            self.answer_cache.store(request.messages, answer, **request.where())

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        cache = self.answer_cache
        if cache is None:
            sent = self._sent(messages, run_manager, kwargs)
            return self.inner._generate(sent, stop=stop, run_manager=run_manager, **kwargs)
        request = _Request(
            self, messages, stop, run_manager.metadata if run_manager else None, kwargs
        )
        hit = cache.lookup(request.messages, **request.where())
        if hit is not None:
            return self._hit_result(hit)

        def call() -> ChatResult:
            sent = self._sent(messages, run_manager, kwargs)
            result = self.inner._generate(sent, stop=stop, run_manager=run_manager, **kwargs)
            self._store(request, result.generations)
            return result

        result, shared = cache.flight.do(request.flight_key, call)
        return _mark_shared(result) if shared else result

    @override
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        cache = self.answer_cache
        if cache is None:
            sent = await self._asent(messages, run_manager, kwargs)
            return await self.inner._agenerate(sent, stop=stop, run_manager=run_manager, **kwargs)
        request = _Request(
            self, messages, stop, run_manager.metadata if run_manager else None, kwargs
        )
        hit = await cache.alookup(request.messages, **request.where())
        if hit is not None:
            return self._hit_result(hit)

        async def call() -> ChatResult:
            sent = await self._asent(messages, run_manager, kwargs)
            result = await self.inner._agenerate(sent, stop=stop, run_manager=run_manager, **kwargs)
            await self._astore(request, result.generations)
            return result

        result, shared = await cache.flight.ado(request.flight_key, call)
        return _mark_shared(result) if shared else result

    def _inner_streams(self) -> bool:
        return type(self.inner)._stream is not BaseChatModel._stream

    @override
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        cache = self.answer_cache
        request = None
        if cache is not None:
            request = _Request(
                self, messages, stop, run_manager.metadata if run_manager else None, kwargs
            )
            hit = cache.lookup(request.messages, **request.where())
            if hit is not None:
                yield from _replay(self._hit_result(hit))
                return
        sent = self._sent(messages, run_manager, kwargs)
        if not self._inner_streams():
            result = self.inner._generate(sent, stop=stop, run_manager=run_manager, **kwargs)
            if request is not None:
                self._store(request, result.generations)
            yield from _replay(result)
            return
        chunks: list[ChatGenerationChunk] = []
        for chunk in self.inner._stream(sent, stop=stop, run_manager=run_manager, **kwargs):
            chunks.append(chunk)
            yield chunk
        if request is not None and chunks:
            self._store(request, [_merged(chunks)])

    @override
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        cache = self.answer_cache
        request = None
        if cache is not None:
            request = _Request(
                self, messages, stop, run_manager.metadata if run_manager else None, kwargs
            )
            hit = await cache.alookup(request.messages, **request.where())
            if hit is not None:
                for chunk in _replay(self._hit_result(hit)):
                    yield chunk
                return
        sent = await self._asent(messages, run_manager, kwargs)
        if type(self.inner)._astream is BaseChatModel._astream and not self._inner_streams():
            result = await self.inner._agenerate(sent, stop=stop, run_manager=run_manager, **kwargs)
            if request is not None:
                await self._astore(request, result.generations)
            for chunk in _replay(result):
                yield chunk
            return
        chunks: list[ChatGenerationChunk] = []
        async for chunk in self.inner._astream(sent, stop=stop, run_manager=run_manager, **kwargs):
            chunks.append(chunk)
            yield chunk
        if request is not None and chunks:
            await self._astore(request, [_merged(chunks)])

    async def _astore(self, request: _Request, generations: Sequence[ChatGeneration]) -> None:
        if self.answer_cache is not None:
            answer = answer_from_generations(list(generations), request.llm)
            await self.answer_cache.astore(request.messages, answer, **request.where())


def _reset(token: Any) -> None:
    with contextlib.suppress(ValueError):  # closed from another context: nothing leaks there
        _run_metadata.reset(token)


def _merged(chunks: list[ChatGenerationChunk]) -> ChatGeneration:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    message = total.message
    ai = AIMessage(
        content=message.content,
        tool_calls=getattr(message, "tool_calls", []) or [],
        usage_metadata=getattr(message, "usage_metadata", None),
        response_metadata=message.response_metadata,
        additional_kwargs=message.additional_kwargs,
    )
    return ChatGeneration(message=ai, generation_info=total.generation_info)


def _replay(result: ChatResult) -> Iterator[ChatGenerationChunk]:
    """A finished answer as stream chunks: words, then a last chunk with metadata."""
    message = result.generations[0].message
    content = message.content
    if isinstance(content, str) and not getattr(message, "tool_calls", None):
        pieces = content.split(" ")
        for i, piece in enumerate(pieces):
            text = piece if i == len(pieces) - 1 else piece + " "
            if text:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=getattr(message, "usage_metadata", None),
                response_metadata=message.response_metadata,
                chunk_position="last",
            )
        )
        return
    yield ChatGenerationChunk(
        message=AIMessageChunk(
            content=content,
            tool_call_chunks=[
                {
                    "name": c["name"],
                    "args": _json(c["args"]),
                    "id": c.get("id"),
                    "index": i,
                    "type": "tool_call_chunk",
                }
                for i, c in enumerate(getattr(message, "tool_calls", []) or [])
            ],
            usage_metadata=getattr(message, "usage_metadata", None),
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _mark_shared(result: ChatResult) -> ChatResult:
    """The leader's answer, marked as served by single-flight to a waiting caller."""
    generations = []
    for gen in result.generations:
        meta = {**(gen.message.response_metadata or {}), CACHE_HIT_KEY: _SHARED}
        generations.append(
            gen.model_copy(
                update={
                    "message": gen.message.model_copy(
                        update={"response_metadata": meta, "id": None}
                    )
                }
            )
        )
    return ChatResult(generations=generations)
