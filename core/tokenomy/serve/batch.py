"""Deferrable requests through an upstream's Batch API, for its discount.

A request marked deferrable (``"tokenomy": {"deferrable": true}``) is not sent on
its own: it joins its upstream's queue, and the queue is sent when it holds
``max_size`` requests or ``max_wait_s`` after its first one, in OpenAI's Batch API
format: one JSON Lines file (``custom_id``, ``method``, ``url``, ``body`` per line)
uploaded to ``/files`` with ``purpose=batch``, a ``/batches`` job over it, polled
every ``poll_s`` until it ends, its output file read back and each line's answer
handed to the request that asked (its error, as an upstream error). Providers bill
such jobs at a discount (OpenAI and Anthropic: 50%) and answer within the
completion window (24 h), so a deferrable request's client waits for its job: use it
for work nobody waits on (classification, extraction, nightly reports).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tokenomy.errors import ConfigError, UpstreamError
from tokenomy.serve.upstream import error_body

if TYPE_CHECKING:
    from tokenomy.serve.upstream import Upstream

__all__ = ["BatchAPI", "BatchStats"]

log = logging.getLogger(__name__)

Json = dict[str, Any]
_DONE = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class BatchStats:
    """Counters of one process's Batch API use."""

    jobs: int = 0
    requests: int = 0
    failed: int = 0


@dataclass
class _Queue:
    items: list[tuple[str, str, Json, asyncio.Future[Json]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class BatchAPI:
    """Queues deferrable requests per upstream and sends them as Batch API jobs.

    Args:
        max_size: requests per job (the seed's BATCH_SIZE, default 32).
        max_wait_s: a queue is sent this long after its first request at the latest
            (BATCH_TIMEOUT_MS, default 0.1 s).
        poll_s: how often a job's status is read (default 5 s).
        completion_window: the job's window (default ``"24h"``).
        clock: monotonic seconds, for the job's duration in the log.
    """

    def __init__(
        self,
        *,
        max_size: int = 32,
        max_wait_s: float = 0.1,
        poll_s: float = 5.0,
        completion_window: str = "24h",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1 or max_wait_s < 0 or poll_s <= 0:
            raise ConfigError(
                f"max_size must be >= 1, max_wait_s >= 0 and poll_s > 0; got {max_size!r}, "
                f"{max_wait_s!r}, {poll_s!r}."
            )
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.poll_s = poll_s
        self.completion_window = completion_window
        self.clock = clock
        self.stats = BatchStats()
        self._queues: dict[tuple[str, str], _Queue] = {}  # a job has one endpoint
        self._upstreams: dict[str, Upstream] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    async def submit(self, upstream: Upstream, path: str, body: Json) -> Json:
        """The answer to ``body`` (a request to ``path``, e.g. ``/chat/completions``),
        once the job it joined has ended.

        Raises:
            UpstreamError: the upstream refused the job, the job failed or expired, or
                this request's line failed (with its own status and error).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Json] = loop.create_future()
        key = (upstream.name, path)
        queue = self._queues.setdefault(key, _Queue())
        self._upstreams[upstream.name] = upstream
        queue.items.append((f"tokenomy-{next(self._ids)}", path, body, future))
        if len(queue.items) >= self.max_size:
            self._send(key)
        elif queue.timer is None:
            queue.timer = loop.call_later(self.max_wait_s, self._send, key)
        return await future

    async def aclose(self) -> None:
        for queue in self._queues.values():
            if queue.timer is not None:
                queue.timer.cancel()
            for *_, future in queue.items:
                future.cancel()
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            with contextlib.suppress(BaseException):  # closing: nothing to report
                await job

    def _send(self, key: tuple[str, str]) -> None:
        queue = self._queues.get(key)
        if queue is None or not queue.items:
            return
        if queue.timer is not None:
            queue.timer.cancel()
        items, queue.items, queue.timer = queue.items, [], None
        job = asyncio.get_running_loop().create_task(self._run(self._upstreams[key[0]], items))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _run(
        self, upstream: Upstream, items: list[tuple[str, str, Json, asyncio.Future[Json]]]
    ) -> None:
        started = self.clock()
        self.stats.jobs += 1
        self.stats.requests += len(items)
        try:
            answers = await self._job(upstream, [(cid, path, body) for cid, path, body, _ in items])
        except BaseException as exc:
            self.stats.failed += len(items)
            for *_, future in items:
                if not future.done():
                    future.set_exception(
                        exc
                        if isinstance(exc, Exception)
                        else UpstreamError(499, error_body("the gateway stopped", "upstream_error"))
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for cid, _, _, future in items:
            if future.done():
                continue
            found = answers.get(cid)
            if isinstance(found, UpstreamError):
                self.stats.failed += 1
                future.set_exception(found)
            elif found is None:
                self.stats.failed += 1
                message = f"request {cid} is missing from the batch job's output"
                future.set_exception(
                    UpstreamError(502, error_body(message, "upstream_error"), upstream.name)
                )
            else:
                future.set_result(found)
        log.info(
            "tokenomy serve: a Batch API job of %d requests to %r ended in %.1f s",
            len(items),
            upstream.name,
            self.clock() - started,
        )

    async def _job(
        self, upstream: Upstream, items: list[tuple[str, str, Json]]
    ) -> dict[str, Json | UpstreamError]:
        lines = [
            json.dumps({"custom_id": cid, "method": "POST", "url": "/v1" + path, "body": body})
            for cid, path, body in items
        ]
        endpoint = "/v1" + items[0][1]
        uploaded = json.loads(
            await upstream.fetch(
                "POST",
                "/files",
                files={
                    "file": ("batch.jsonl", ("\n".join(lines) + "\n").encode(), "application/jsonl")
                },
                data={"purpose": "batch"},
            )
        )
        job = await upstream.post(
            "/batches",
            {
                "input_file_id": uploaded["id"],
                "endpoint": endpoint,
                "completion_window": self.completion_window,
            },
        )
        while job.get("status") not in _DONE:
            await asyncio.sleep(self.poll_s)
            job = json.loads(await upstream.fetch("GET", f"/batches/{job['id']}"))
        if job["status"] != "completed":
            message = f"the Batch API job {job['id']} ended {job['status']}"
            raise UpstreamError(502, error_body(message, "upstream_error"), upstream.name)
        answers: dict[str, Json | UpstreamError] = {}
        for key in ("output_file_id", "error_file_id"):
            if job.get(key):
                content = await upstream.fetch("GET", f"/files/{job[key]}/content")
                answers.update(_lines(content, upstream.name))
        return answers


def _lines(content: bytes, model: str) -> dict[str, Json | UpstreamError]:
    """Each output line's answer (or error), by ``custom_id``."""
    out: dict[str, Json | UpstreamError] = {}
    for raw in content.decode("utf-8", "replace").splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        cid = str(line.get("custom_id"))
        response = line.get("response") or {}
        status = int(response.get("status_code") or 0)
        body = response.get("body")
        if line.get("error") or status >= 400 or not isinstance(body, dict):
            error = (
                body
                if isinstance(body, dict) and "error" in body
                else error_body(
                    str(line.get("error") or "the request failed in the batch job"),
                    "upstream_error",
                )
            )
            out[cid] = UpstreamError(status if status >= 400 else 502, error, model)
        else:
            out[cid] = body
    return out
