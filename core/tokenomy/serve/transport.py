"""An httpx transport that sends requests with aiohttp.

The gateway speaks httpx to its upstreams (requests, responses, timeouts, errors,
``MockTransport`` in tests), but httpx's own transport (httpcore over anyio) costs
~2 ms of CPU per request: measured on this project's 2-core machine against a
loopback server at 50 requests in flight, 450-510 requests/s with httpx's
transport, 1,400-1,700 with this one, 2,100-2,400 with aiohttp alone. A gateway
making hundreds of upstream calls a second spends its CPU there, so by default its
httpx client sends through aiohttp's connection pool (``upstream_client: httpx`` in
the configuration turns it off).

Errors are raised as httpx's (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``ReadError``…), bodies are passed through undecoded (httpx decodes them), and
closing a response before its end closes the connection, so an upstream stops
generating a stream nobody reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport"]

_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade"})


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except asyncio.TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # read to the end: the connection is reused
        else:
            self._response.close()  # cut short: close it, so the upstream stops


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one ``aiohttp.ClientSession`` (created in the
    running loop on first use; :meth:`aclose` closes it).

    Args:
        keepalive_s: how long an idle upstream connection is kept (default 30 s).
    """

    def __init__(self, *, keepalive_s: float = 30.0) -> None:
        from tokenomy._optional import require

        require("aiohttp", feature="the gateway's upstream client", extra="server")
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=0, keepalive_timeout=self.keepalive_s
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        session = self._open()
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower() not in _HOP_BY_HOP
        ]
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                str(request.url),
                data=body or None,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except asyncio.TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        raw = [
            (k, v) for k, v in response.raw_headers if k.lower() not in _HOP_BY_HOP
        ]  # httpx decodes the content, and frames it itself
        return httpx.Response(response.status, headers=raw, stream=_Body(response), request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
