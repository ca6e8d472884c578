"""The OpenAI-compatible HTTP API (a Starlette app): every call through the pipeline.

``POST /v1/chat/completions`` and ``/v1/completions`` (JSON or server-sent events),
``POST /v1/responses`` (JSON; see :mod:`tokenomy.serve.responses`),
``POST /v1/embeddings`` (passed through, whole requests cached), ``GET /v1/models``,
``GET /healthz`` and ``GET /metrics``. A request is refused before anything is
forwarded when its key is unknown (401), its model is not the tenant's (403) or
unknown (404), its tenant is over its rate (429) or budget (429,
``insufficient_quota``). An upstream's error is relayed with its status. Every
answer carries the pipeline's per-stage trace in the ``x-tokenomy-trace`` header
(for a stream: the stages run before its first byte) and, when asked, in a
``tokenomy`` field (for a stream: a last chunk with no choices).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tokenomy.errors import AllModelsFailedError, BudgetExceededError, UpstreamError
from tokenomy.pipeline import Request, Sent, answer_cap
from tokenomy.serve.codec import (
    CallState,
    ChatCodec,
    CompletionCodec,
    EmbeddingCodec,
    trace_dict,
)
from tokenomy.serve.config import GatewayConfig
from tokenomy.serve.dedup import dedup_key
from tokenomy.serve.gateway import CURRENT, Gateway
from tokenomy.serve.metrics import gauges
from tokenomy.serve.provider import UpstreamCall
from tokenomy.serve.responses import ResponsesCodec, responses_request, shapeable_input
from tokenomy.serve.tenants import Tenant, tenant_tags
from tokenomy.serve.translate import (
    BadRequestError,
    Options,
    chat_request,
    llm_key,
)
from tokenomy.serve.upstream import Upstream, error_body
from tokenomy.telemetry.otel import Telemetry, join_trace

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis
    from starlette.applications import Starlette
    from starlette.requests import Request as HttpRequest
    from starlette.responses import Response

__all__ = ["TRACE_HEADER", "create_app"]

log = logging.getLogger(__name__)

TRACE_HEADER = "x-tokenomy-trace"
"""Response header holding the per-stage trace as compact JSON."""
MAX_TRACE_HEADER = 8192
WORKER_THREADS = 32
"""Threads for the pipeline's blocking stages (cache tiers, token counts)."""

Json = dict[str, Any]

_CODECS: dict[str, type[ChatCodec] | type[CompletionCodec]] = {
    "chat": ChatCodec,
    "completion": CompletionCodec,
    "responses": ResponsesCodec,
}


class _RefusedError(Exception):
    """A request refused with an OpenAI error (nothing was forwarded)."""

    def __init__(
        self, status: int, message: str, kind: str, code: str | None = None, **headers: str
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.code, self.headers = status, kind, code, headers


def create_app(
    config: GatewayConfig,
    *,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    redis: Redis | None = None,
    telemetry: Telemetry | None = None,
) -> Starlette:
    """The gateway as an ASGI app (serve it with uvicorn).

    Args:
        config: the configuration (:meth:`GatewayConfig.from_file`).
        environ: where the secrets the configuration names are read (``os.environ``).
        transport: an httpx transport for upstream calls (tests; default: the network).
        redis: an asyncio Redis client (tests; default: one for ``redis_url_env``).
        telemetry: where spans and metrics go (default: the global OpenTelemetry
            providers when the file says ``telemetry: true`` or the environment
            ``TOKENOMY_TELEMETRY__ENABLED=true``; else nothing is exported).
    """
    from tokenomy._optional import require

    require("starlette", feature="tokenomy serve", extra="server")
    from starlette.applications import Starlette
    from starlette.routing import Route

    gateway = Gateway(
        config, environ=environ, transport=transport, redis=redis, telemetry=telemetry
    )
    api = _Api(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="tokenomy-serve")
        )
        await gateway.start()
        try:
            yield
        finally:
            await gateway.aclose()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", api.chat, methods=["POST"]),
            Route("/v1/completions", api.completions, methods=["POST"]),
            Route("/v1/responses", api.responses, methods=["POST"]),
            Route("/v1/embeddings", api.embeddings, methods=["POST"]),
            Route("/v1/models", api.models, methods=["GET"]),
            Route("/healthz", api.health, methods=["GET"]),
            Route("/metrics", api.metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    from starlette.responses import Response

    content = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status, headers=dict(headers or {}), media_type="application/json")


def _error(status: int, message: str, kind: str, code: str | None = None, **extra: Any) -> Response:
    body = error_body(message, kind, code)
    body["error"].update(extra)
    return _json(body, status)


def _sse(chunk: Json) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode("utf-8") + b"\n\n"


class _Api:
    """The HTTP handlers over one :class:`Gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    # -- the endpoints ---------------------------------------------------------------

    async def chat(self, request: HttpRequest) -> Response:
        return await self._handle(request, lambda t, b: self._generate("chat", request, t, b))

    async def completions(self, request: HttpRequest) -> Response:
        return await self._handle(request, lambda t, b: self._generate("completion", request, t, b))

    async def responses(self, request: HttpRequest) -> Response:
        return await self._handle(request, lambda t, b: self._generate("responses", request, t, b))

    async def embeddings(self, request: HttpRequest) -> Response:
        return await self._handle(request, lambda t, b: self._embed(request, t, b))

    async def models(self, request: HttpRequest) -> Response:
        try:
            tenant = self._tenant(request)
        except _RefusedError as r:
            return _error(r.status, str(r), r.kind, r.code)
        names = [*self.g.config.models, *self.g.config.routes]
        data = [
            {"id": n, "object": "model", "created": 0, "owned_by": "tokenomy"}
            for n in names
            if tenant.config.allows(n)
        ]
        return _json({"object": "list", "data": data})

    async def health(self, request: HttpRequest) -> Response:
        redis = "off"
        if self.g.redis is not None:
            try:
                await asyncio.wait_for(self.g.redis.ping(), 0.5)
                redis = "ok"
            except Exception:
                redis = "unreachable"
        flights = self.g.dedup.in_flight if self.g.dedup is not None else 0
        return _json({"status": "ok", "redis": redis, "in_flight": flights})

    async def metrics(self, request: HttpRequest) -> Response:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(self.g.metrics.render(gauges(self.g)), media_type="text/plain")

    # -- one request -------------------------------------------------------------------

    async def _handle(
        self, request: HttpRequest, run: Callable[[Tenant, Json], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        tenant_name = "-"
        try:
            tenant = self._tenant(request)
            tenant_name = tenant.name
            body = await self._body(request)
            wait = await self.g.rate.admit(tenant)
            if wait is not None:
                raise _RefusedError(
                    429,
                    f"tenant {tenant.name!r} is over its rate limit of "
                    f"{tenant.config.rate_limit_rpm} requests per minute; retry in {wait:.1f} s.",
                    "rate_limit_exceeded",
                    "rate_limit_exceeded",
                    **{"Retry-After": str(max(1, round(wait)))},
                )
            response = await run(tenant, body)
        except _RefusedError as r:
            response = _error(r.status, str(r), r.kind, r.code)
            response.headers.update(r.headers)
        except BadRequestError as exc:
            response = _error(exc.status, str(exc), "invalid_request_error", param=exc.param)
        self.g.metrics.inc(
            "tokenomy_requests_total",
            path=request.url.path,
            status=response.status_code,
            tenant=tenant_name,
        )
        self.g.metrics.observe(time.perf_counter() - started, path=request.url.path)
        return response

    def _tenant(self, request: HttpRequest) -> Tenant:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else None
        tenant = self.g.keys.tenant(key)
        if tenant is None:
            raise _RefusedError(
                401,
                "unknown API key: send 'Authorization: Bearer <key>' with a key this gateway's "
                "configuration lists (stored as its SHA-256 under a tenant's key_sha256).",
                "invalid_request_error",
                "invalid_api_key",
            )
        return tenant

    async def _body(self, request: HttpRequest) -> Json:
        limit = self.g.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BadRequestError(f"the request body is over {limit} bytes.", status=413)
        raw = await request.body()
        if len(raw) > limit:
            raise BadRequestError(f"the request body is over {limit} bytes.", status=413)
        try:
            body = json.loads(raw)
        except ValueError:
            raise BadRequestError("the request body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise BadRequestError("the request body must be a JSON object.")
        return body

    def _model(self, tenant: Tenant, body: Json) -> tuple[str, str | None]:
        """(model or route name, the route or None)."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequestError("'model' must name a model this gateway serves.", "model")
        config = self.g.config
        if model not in config.models and model not in config.routes:
            raise _RefusedError(
                404,
                f"the model {model!r} does not exist on this gateway; it serves "
                f"{sorted([*config.models, *config.routes])} (GET /v1/models).",
                "invalid_request_error",
                "model_not_found",
            )
        if not tenant.config.allows(model):
            raise _RefusedError(
                403,
                f"tenant {tenant.name!r} may not use model {model!r}; it may use "
                f"{tenant.config.models}.",
                "permission_error",
                "model_not_allowed",
            )
        return model, model if model in config.routes else None

    # -- chat and completions through the pipeline ----------------------------------------

    async def _generate(self, kind: str, http: HttpRequest, tenant: Tenant, body: Json) -> Response:
        model, route = self._model(tenant, body)
        options = Options.read(body, http.headers)
        state = CallState(want_trace=options.trace)
        CURRENT.set(state)  # this request's task only; the ledger reads it
        if self.g.telemetry:
            join_trace(http.headers)  # the call's span becomes a child of the caller's
        user = body.get("user") if isinstance(body.get("user"), str) else None
        scope = tenant.scope(user)
        tags = tenant_tags(tenant, {**options.tags, **({"user": user} if user else {})})
        direct = self.g.upstreams[model] if route is None else None
        llm = llm_key(kind, model, direct.model if direct else None, body)
        price_model = self.g.price_names[model] if route is None else None
        codec = _CODECS[kind](state, self.g.price_names)
        stream = bool(body.get("stream"))
        if kind in ("chat", "responses"):
            build = chat_request if kind == "chat" else responses_request
            request = build(
                body, model=price_model, llm=llm, scope=scope, options=options, tags=tags
            )
        else:
            prompt = _single_prompt(body.get("prompt"))
            if prompt is None:  # token arrays, several prompts: straight through
                assert direct is not None or route is not None
                return await self._passthrough(
                    self.g.upstreams[model] if direct else None, "/completions", body, stream
                )
            request = Request(
                prompt=prompt,
                model=price_model,
                llm=llm,
                max_tokens=answer_cap(body.get("max_tokens")),
                scope=scope,
                session=options.session,
                tags=tags,
            )
        upstream = UpstreamCall(
            self.g, kind=kind, body=body, model=model, scope=scope, options=options, state=state
        )
        if upstream.batch is not None and not stream:
            # billed at the Batch API's price if sent: what a cache hit saves
            request = replace(request, price_factor=self.g.config.batch.price_factor)
        # the context stage shortens messages; Responses input when each item maps back
        shapeable = kind != "responses" or shapeable_input(body)
        pipe = self.g.pipeline(tenant, route, options.cache, context=shapeable)
        try:
            if not stream:
                result = await pipe.arun(request, upstream.call, codec)
                return _json(result, headers=self._headers(state))
            return await self._stream(
                pipe.astream(request, upstream.start, codec), codec, state, body
            )
        except BudgetExceededError as exc:
            return _error(429, str(exc), "insufficient_quota", "budget_exceeded")
        except UpstreamError as exc:
            return _json(exc.body, exc.status)
        except AllModelsFailedError as exc:
            if upstream.errors:  # the upstream's own error, relayed after fallback
                return _json(upstream.errors[-1].body, upstream.errors[-1].status)
            return _error(502, str(exc), "upstream_error")

    async def _stream(
        self, chunks: AsyncIterator[Json], codec: Any, state: CallState, body: Json
    ) -> Response:
        """Start an SSE response once the first chunk is there: an error before it still
        gets its own status, and the trace header has every stage run before it."""
        from starlette.responses import StreamingResponse

        try:
            first: Json | None = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        options = body.get("stream_options")
        usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
        headers = {**self._headers(state), "Cache-Control": "no-cache"}
        return StreamingResponse(
            self._events(chunks, first, codec, state, usage),
            media_type="text/event-stream",
            headers=headers,
        )

    async def _events(
        self,
        chunks: AsyncIterator[Json],
        first: Json | None,
        codec: Any,
        state: CallState,
        usage: bool,
    ) -> AsyncIterator[bytes]:
        traced = False
        pending = [first] if first is not None else []
        try:
            while True:
                for chunk in pending:
                    if "tokenomy" in chunk:
                        traced = True
                    elif not usage and not chunk.get("choices") and chunk.get("usage"):
                        continue  # asked of the upstream for accounting, not by the client
                    yield _sse(chunk)
                try:
                    pending = [await chunks.__anext__()]
                except StopAsyncIteration:
                    break
        except Exception as exc:  # after the first byte the status is sent: an error event
            body = (
                exc.body
                if isinstance(exc, UpstreamError)
                else error_body(f"the stream failed: {type(exc).__name__}", "upstream_error")
            )
            if not isinstance(exc, UpstreamError | BudgetExceededError):
                log.exception("tokenomy serve: a stream failed after its first chunk")
            yield _sse(body)
            return
        finally:
            with contextlib.suppress(Exception):
                await chunks.aclose()  # type: ignore[attr-defined]
        if state.want_trace and not traced and state.trace is not None:
            yield _sse(codec.trace_chunk(state.trace))
        yield b"data: [DONE]\n\n"

    async def _passthrough(
        self, upstream: Upstream | None, path: str, body: Json, stream: bool
    ) -> Response:
        """A request the pipeline cannot represent, sent as it came."""
        from starlette.responses import StreamingResponse

        if upstream is None:
            raise BadRequestError(
                "a route takes one prompt (a string); name a model instead.", "model"
            )
        out = {k: v for k, v in body.items() if k != "tokenomy"}
        out["model"] = upstream.model
        try:
            if not stream:
                return _json(await upstream.post(path, out))
            chunks = upstream.stream(path, out)
            first = await chunks.__anext__()
        except UpstreamError as exc:
            return _json(exc.body, exc.status)

        async def events() -> AsyncIterator[bytes]:
            yield _sse(first)
            async for chunk in chunks:
                yield _sse(chunk)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # -- embeddings --------------------------------------------------------------------

    async def _embed(self, http: HttpRequest, tenant: Tenant, body: Json) -> Response:
        model, route = self._model(tenant, body)
        if route is not None:
            raise BadRequestError("embeddings go to a model, not a route.", "model")
        if "input" not in body:
            raise BadRequestError("'input' must be a string or a list of strings.", "input")
        options = Options.read(body, http.headers)
        state = CallState(want_trace=options.trace)
        up = self.g.upstreams[model]
        user = body.get("user") if isinstance(body.get("user"), str) else None
        plain = {k: v for k, v in body.items() if k not in ("tokenomy", "user")}
        request = Request(
            prompt=dedup_key(plain),  # the whole request, exactly
            model=self.g.price_names[model],
            llm=llm_key("embeddings", model, up.model, body),
            scope=tenant.scope(user),
            tags=tenant_tags(tenant, options.tags),
        )
        out = {k: v for k, v in body.items() if k != "tokenomy"}
        out["model"] = up.model

        async def call(sent: Sent) -> Json:
            return await up.post("/embeddings", out)

        pipe = self.g.embedding_pipeline(tenant, options.cache)
        try:
            result = await pipe.arun(request, call, EmbeddingCodec(state))
        except UpstreamError as exc:
            return _json(exc.body, exc.status)
        return _json(result, headers=self._headers(state))

    # -- what the responses carry ---------------------------------------------------------

    def _headers(self, state: CallState) -> dict[str, str]:
        if not self.g.config.trace_header or state.trace is None:
            return {}
        trace = trace_dict(state.trace)
        text = json.dumps(trace, separators=(",", ":"))
        if len(text) > MAX_TRACE_HEADER:
            trace.pop("route", None)
            text = json.dumps(trace, separators=(",", ":"))[:MAX_TRACE_HEADER]
        return {TRACE_HEADER: text}


def _single_prompt(prompt: Any) -> str | None:
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    return prompt if isinstance(prompt, str) and prompt else None
