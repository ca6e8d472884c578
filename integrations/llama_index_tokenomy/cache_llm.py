"""``SemanticCacheLLM``: any LlamaIndex LLM behind tokenomy's answer cache."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from pydantic import Field, PrivateAttr
from typing_extensions import override

from llama_index_tokenomy._convert import (
    model_from_payload,
    to_openai_messages,
    usage_from_response,
)
from tokenomy.cache import Answer, CacheHit, SemanticCache
from tokenomy.cache.stats import CACHE_HIT_KEY
from tokenomy.errors import ConfigError
from tokenomy.monitor import UsageRecorder

__all__ = ["CACHE_HIT_KEY", "SemanticCacheLLM"]


class SemanticCacheLLM(LLM):
    """Serves an LLM's repeated questions from tokenomy's cache; misses go to ``llm``.

    Its own methods carry no LlamaIndex callback decorators: the inner LLM's
    decorated methods report each real call once to ``TokenCountingHandler`` and to
    instrumentation, and a hit reports nothing there (it spent nothing). Hits are
    recorded as tokens saved in tokenomy's ledger: in ``recorder`` if given, else in
    the handler :func:`llama_index_tokenomy.enable` attached, if any.

    Args:
        llm: the LLM doing the work (usable as ``Settings.llm`` once wrapped).
        cache: the core cache (default: in-memory, semantic, with false-hit guards).
        scope: tenant / user whose entries this wrapper sees (default: shared scope "").
        recorder: where hits are recorded as saved (optional).
    """

    llm: LLM = Field(exclude=True)
    scope: str | None = None
    _cache: SemanticCache = PrivateAttr()
    _recorder: UsageRecorder | None = PrivateAttr(default=None)

    def __init__(
        self,
        llm: LLM,
        cache: SemanticCache | None = None,
        *,
        scope: str | None = None,
        recorder: UsageRecorder | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(llm, LLM):
            raise ConfigError(f"llm must be a LlamaIndex LLM; got {type(llm).__name__}.")
        if cache is not None and not isinstance(cache, SemanticCache):
            raise ConfigError(
                f"cache must be a tokenomy SemanticCache; got {type(cache).__name__}."
            )
        super().__init__(llm=llm, scope=scope, callback_manager=llm.callback_manager, **kwargs)
        self._cache = cache if cache is not None else SemanticCache()
        self._recorder = recorder

    @classmethod
    @override
    def class_name(cls) -> str:
        return "SemanticCacheLLM"

    @property
    def cache(self) -> SemanticCache:
        return self._cache

    @property
    @override
    def metadata(self) -> LLMMetadata:
        return self.llm.metadata

    # -- keys and records ----------------------------------------------------------------

    def _llm_string(self, kind: str, kwargs: dict[str, Any]) -> str:
        payload = {
            k: v
            for k, v in self.llm.to_dict().items()
            if isinstance(v, str | int | float | bool) and "key" not in k.lower()
        }
        return json.dumps(
            [kind, self.llm.class_name(), payload, kwargs], sort_keys=True, default=str
        )

    def _model(self) -> str | None:
        name = model_from_payload(self.llm.to_dict()) or self.llm.metadata.model_name
        return None if not name or name == "unknown" else name

    def _record_hit(self, hit: CacheHit) -> None:
        recorder = self._recorder
        if recorder is None:
            from llama_index_tokenomy.events import enabled_handler

            handler = enabled_handler()
            recorder = handler.recorder if handler is not None else None
        if recorder is not None:
            recorder.record_call(
                model=hit.model or self._model(),
                usage=hit.usage,
                cache_hit=f"{hit.kind}_cache",
                tags={"scope": self.scope} if self.scope else None,
            )

    def _answer(self, text: str, payload: str, response: Any) -> Answer:
        usage, served, _ = usage_from_response(response)
        raw = getattr(response, "raw", None)
        finish = None
        choices = raw.get("choices") if isinstance(raw, dict) else getattr(raw, "choices", None)
        if choices:
            first = choices[0]
            finish = (
                first.get("finish_reason")
                if isinstance(first, dict)
                else getattr(first, "finish_reason", None)
            )
        return Answer(
            payload=payload,
            text=text,
            model=served or self._model(),
            usage=usage,
            finish_reason=finish,
        )

    def _chat_payload(self, response: ChatResponse, text: str | None = None) -> Answer:
        msg = response.message
        content = msg.content or "" if text is None else text
        payload = json.dumps(
            {
                "role": msg.role.value,
                "content": content,
                "additional_kwargs": _jsonable(msg.additional_kwargs),
            }
        )
        return self._answer(content, payload, response)

    def _completion_payload(self, response: CompletionResponse, text: str | None = None) -> Answer:
        content = response.text if text is None else text
        return self._answer(content, json.dumps({"text": content}), response)

    @staticmethod
    def _chat_hit(hit: CacheHit) -> ChatResponse:
        data = json.loads(hit.payload)
        message = ChatMessage(
            role=MessageRole(data["role"]),
            content=data["content"],
            additional_kwargs=data.get("additional_kwargs") or {},
        )
        return ChatResponse(
            message=message,
            delta=data["content"],
            additional_kwargs={CACHE_HIT_KEY: f"{hit.kind}_cache"},
        )

    @staticmethod
    def _completion_hit(hit: CacheHit) -> CompletionResponse:
        text = json.loads(hit.payload)["text"]
        return CompletionResponse(
            text=text, delta=text, additional_kwargs={CACHE_HIT_KEY: f"{hit.kind}_cache"}
        )

    # -- chat ---------------------------------------------------------------------------

    @override
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request, llm = to_openai_messages(messages), self._llm_string("chat", kwargs)
        hit = self._cache.lookup(request, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return self._chat_hit(hit)
        key = self._cache.key(request, llm=llm, scope=self.scope)

        def call() -> ChatResponse:
            response = self.llm.chat(messages, **kwargs)
            self._cache.store(request, self._chat_payload(response), llm=llm, scope=self.scope)
            return response

        return self._cache.flight.do((key.partition, key.exact), call)[0]

    @override
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request, llm = to_openai_messages(messages), self._llm_string("chat", kwargs)
        hit = self._cache.lookup(request, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return _replay_chat(self._chat_hit(hit))
        return self._stream_and_store(
            self.llm.stream_chat(messages, **kwargs), request, llm, self._chat_payload
        )

    @override
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request, llm = to_openai_messages(messages), self._llm_string("chat", kwargs)
        hit = await self._cache.alookup(request, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return self._chat_hit(hit)
        key = self._cache.key(request, llm=llm, scope=self.scope)

        async def call() -> ChatResponse:
            response = await self.llm.achat(messages, **kwargs)
            await self._cache.astore(
                request, self._chat_payload(response), llm=llm, scope=self.scope
            )
            return response

        return (await self._cache.flight.ado((key.partition, key.exact), call))[0]

    @override
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        request, llm = to_openai_messages(messages), self._llm_string("chat", kwargs)
        hit = await self._cache.alookup(request, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return _areplay(list(_replay_chat(self._chat_hit(hit))))
        inner = await self.llm.astream_chat(messages, **kwargs)
        return self._astream_and_store(inner, request, llm, self._chat_payload)

    # -- completion -----------------------------------------------------------------------

    @override
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        llm = self._llm_string("complete", {**kwargs, "formatted": formatted})
        hit = self._cache.lookup(prompt, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return self._completion_hit(hit)
        key = self._cache.key(prompt, llm=llm, scope=self.scope)

        def call() -> CompletionResponse:
            response = self.llm.complete(prompt, formatted=formatted, **kwargs)
            self._cache.store(prompt, self._completion_payload(response), llm=llm, scope=self.scope)
            return response

        return self._cache.flight.do((key.partition, key.exact), call)[0]

    @override
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        llm = self._llm_string("complete", {**kwargs, "formatted": formatted})
        hit = self._cache.lookup(prompt, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return _replay_completion(self._completion_hit(hit))
        stream = self.llm.stream_complete(prompt, formatted=formatted, **kwargs)
        return self._stream_and_store(stream, prompt, llm, self._completion_payload)

    @override
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        llm = self._llm_string("complete", {**kwargs, "formatted": formatted})
        hit = await self._cache.alookup(prompt, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return self._completion_hit(hit)
        response = await self.llm.acomplete(prompt, formatted=formatted, **kwargs)
        await self._cache.astore(
            prompt, self._completion_payload(response), llm=llm, scope=self.scope
        )
        return response

    @override
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        llm = self._llm_string("complete", {**kwargs, "formatted": formatted})
        hit = await self._cache.alookup(prompt, llm=llm, scope=self.scope)
        if hit is not None:
            self._record_hit(hit)
            return _areplay(list(_replay_completion(self._completion_hit(hit))))
        inner = await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)
        return self._astream_and_store(inner, prompt, llm, self._completion_payload)

    # -- streaming helpers -------------------------------------------------------------------

    def _stream_and_store(
        self, stream: Iterator[Any], request: Any, llm: str, to_answer: Any
    ) -> Iterator[Any]:
        last, deltas = None, []
        for item in stream:
            last = item
            deltas.append(item.delta or "")
            yield item
        if last is not None:  # the stream finished: the deltas add up to the full answer
            text = "".join(deltas) if any(deltas) else None
            self._cache.store(request, to_answer(last, text), llm=llm, scope=self.scope)

    async def _astream_and_store(
        self, stream: AsyncIterator[Any], request: Any, llm: str, to_answer: Any
    ) -> AsyncIterator[Any]:
        last, deltas = None, []
        async for item in stream:
            last = item
            deltas.append(item.delta or "")
            yield item
        if last is not None:
            text = "".join(deltas) if any(deltas) else None
            await self._cache.astore(request, to_answer(last, text), llm=llm, scope=self.scope)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return {}


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if w or i == 0]


def _replay_chat(response: ChatResponse) -> ChatResponseGen:
    text = ""
    for piece in _pieces(response.message.content or ""):
        text += piece
        message = ChatMessage(
            role=response.message.role,
            content=text,
            additional_kwargs=response.message.additional_kwargs,
        )
        yield ChatResponse(
            message=message, delta=piece, additional_kwargs=response.additional_kwargs
        )


def _replay_completion(response: CompletionResponse) -> CompletionResponseGen:
    text = ""
    for piece in _pieces(response.text):
        text += piece
        yield CompletionResponse(
            text=text, delta=piece, additional_kwargs=response.additional_kwargs
        )


async def _areplay(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
