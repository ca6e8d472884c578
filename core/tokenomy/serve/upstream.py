"""The gateway's calls to OpenAI-compatible upstreams, over pooled httpx clients.

An upstream's error is raised as :class:`~tokenomy.errors.UpstreamError` with its
status and its OpenAI error JSON, which the gateway relays to the client; a
timeout is a 504 and an unreachable server a 502. The upstream's API key goes in
the ``Authorization`` header only: never in a log line, a cache key or an error.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tokenomy.errors import UpstreamError
from tokenomy.serve.config import ModelConfig

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

__all__ = ["Upstream", "error_body"]

log = logging.getLogger(__name__)


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error JSON."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class Upstream:
    """One configured model: where it is served and how to call it.

    Args:
        name: the public model name clients ask for.
        config: its configuration entry.
        api_key: the upstream key (from the environment), or None.
        clients: the shared ``httpx.AsyncClient`` objects, used in turn.
    """

    def __init__(
        self,
        *,
        name: str,
        config: ModelConfig,
        api_key: SecretStr | None,
        clients: Sequence[httpx.AsyncClient],
    ) -> None:
        self.name = name
        self.config = config
        self.model = config.model or name
        self.base_url = config.base_url.rstrip("/")
        if not clients:
            raise ValueError("an upstream needs at least one httpx client")
        self._clients = list(clients)
        self._turn = itertools.count()
        self._urls: dict[str, httpx.URL] = {}  # parsed once: httpx parses a str per call
        self._headers = {"Content-Type": "application/json"}
        if api_key is not None:
            self._headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"

    def __repr__(self) -> str:  # never the headers
        return f"Upstream(name={self.name!r}, base_url={self.base_url!r}, model={self.model!r})"

    @property
    def _client(self) -> httpx.AsyncClient:
        return self._clients[next(self._turn) % len(self._clients)]

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            import httpx

            url = self._urls[path] = httpx.URL(self.base_url + path)
        return url

    def body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``body`` for this upstream: its own model name."""
        return {**body, "model": self.model}

    async def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` (``/chat/completions``…) and return the JSON answer."""
        import httpx

        try:
            response = await self._client.post(
                self._url(path),
                content=_dumps(body),
                headers=self._headers,
                timeout=self.config.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise self._unreachable(504, "timed out", exc) from None
        except httpx.HTTPError as exc:
            raise self._unreachable(502, "could not be reached", exc) from None
        if response.status_code >= 400:
            raise self._failed(response.status_code, response.content)
        try:
            data = response.json()
        except ValueError:
            raise self._failed(502, response.content) from None
        if not isinstance(data, dict):
            raise self._failed(502, response.content)
        return data

    async def fetch(
        self,
        method: str,
        path: str,
        *,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> bytes:
        """Any other call (the Batch API's files and batches): the raw body of a 2xx
        answer; errors as :meth:`post` raises them. Not cached: ids change per call."""
        import httpx

        headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        try:
            response = await self._client.request(
                method,
                self.base_url + path,
                files=files,
                data=data,
                headers=headers,
                timeout=self.config.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise self._unreachable(504, "timed out", exc) from None
        except httpx.HTTPError as exc:
            raise self._unreachable(502, "could not be reached", exc) from None
        if response.status_code >= 400:
            raise self._failed(response.status_code, response.content)
        return response.content

    async def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """POST a streaming ``body`` and yield each server-sent event's JSON. Closing the
        iterator closes the upstream connection, so the upstream stops generating."""
        import httpx

        try:
            async with self._client.stream(
                "POST",
                self._url(path),
                content=_dumps(body),
                headers=self._headers,
                timeout=self.config.timeout_s,
            ) as response:
                if response.status_code >= 400:
                    raise self._failed(response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names, blank separators
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    event = json.loads(data)
                    if isinstance(event, dict) and event.get("error") and not event.get("choices"):
                        raise self._failed(502, data.encode())
                    yield event
        except httpx.TimeoutException as exc:
            raise self._unreachable(504, "timed out", exc) from None
        except httpx.HTTPError as exc:
            raise self._unreachable(502, "could not be reached", exc) from None

    def _failed(self, status: int, content: bytes) -> UpstreamError:
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "error" not in body:
            text = content[:500].decode("utf-8", "replace")
            body = error_body(f"upstream error: {text}", "upstream_error")
        return UpstreamError(status, body, self.name)

    def _unreachable(self, status: int, what: str, exc: Exception) -> UpstreamError:
        log.warning("tokenomy serve: upstream %r %s (%s)", self.name, what, type(exc).__name__)
        message = f"the upstream of model {self.name!r} {what} ({type(exc).__name__})"
        return UpstreamError(status, error_body(message, "upstream_error"), self.name)


def _dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
