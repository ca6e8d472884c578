"""Identical upstream calls share one call: in flight here, on other replicas, or
answered within the de-duplication window.

In one process, the requests for a key join one *flight*: a task that makes the
call (or follows another replica's) and keeps every chunk, so a request that joins
mid-stream still gets the whole answer, chunk by chunk. A request that leaves does
not stop the call for the others; the last one to leave does.

Across replicas (when a Redis client is given), a flight first runs one Lua script:
an answer stored within the window is served at once (``window``); else the flight
claims the key (``SET NX`` with a lease a heartbeat renews) and calls the upstream,
appending its chunks (a few at a time) and then its answer to a Redis stream of its
own; else it follows the claimant's stream with a blocking ``XREAD`` (``in_flight``).
A claimant that fails hands the call over: an abandoned or expired claim (a killed
replica's lapses within ``lease_s``) is taken by the next replica, which calls
again. An upstream's refusal of the request itself (a 4xx) is shared, so 50 bad
requests make one call. Redis being unreachable only turns sharing across replicas
off for ``retry_after_s``: every flight then calls on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenomy.errors import ConfigError, UpstreamError
from tokenomy.serve.sections import DEFAULT_DEDUP_WINDOW_S, DEFAULT_LEASE_S

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DedupStats", "Deduplicator", "dedup_key"]

log = logging.getLogger(__name__)

Json = dict[str, Any]

FLUSH_S = 0.02
"""A streaming claimant appends its chunks to Redis at most this often (seconds)."""
BLOCK_MS = 500
"""A follower's blocking read; after each empty one it checks the claim still stands."""
_SHARED_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
"""Upstream answers about the request itself: every identical request would get them."""
_ACQUIRE = """
local done = redis.call('GET', KEYS[1])
if done then return {'done', done} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'lead', ARGV[1]} end
return {'follow', redis.call('GET', KEYS[2]) or ''}
"""
_FINISH = """
redis.call('XADD', KEYS[3], '*', 't', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if ARGV[2] == 'done' and tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[5])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def dedup_key(*parts: Any) -> str:
    """A key for identical calls: the SHA-256 of ``parts`` as canonical JSON.

    Example:
        >>> dedup_key("acme", {"b": 1, "a": 2}) == dedup_key("acme", {"a": 2, "b": 1})
        True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class DedupStats:
    """Counters of one process's de-duplicator."""

    calls: int = 0
    """Upstream calls this process made."""
    in_flight: int = 0
    """Requests answered by a call in flight (here or on another replica)."""
    window: int = 0
    """Requests answered by an identical call finished within the window."""
    redis_errors: int = 0


@dataclass
class _Source:
    """How a flight calls the upstream: a whole answer, or a stream and its merge."""

    fetch: Callable[[], Awaitable[Json]] | None = None
    start: Callable[[], AsyncIterator[Json]] | None = None
    merge: Callable[[Sequence[Json]], Json] | None = None


class _Flight:
    """One upstream call in this process and everything it has produced so far."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.chunks: list[Json] = []
        self.answer: Json | None = None
        self.error: BaseException | None = None
        self.done = False
        self.how: str | None = None  # None: called here; "in_flight"/"window": shared
        self.consumers = 0
        self.task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    def push(self, chunks: Iterable[Json]) -> None:
        self.chunks.extend(chunks)
        self._wake()

    def finish(self, answer: Json, how: str | None) -> None:
        if not self.done:
            self.answer, self.how, self.done = answer, how, True
            self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.done:
            self.error, self.done = exc, True
            self._wake()

    def _wake(self) -> None:
        event, self.changed = self.changed, asyncio.Event()
        event.set()


class _VacantError(Exception):
    """The claimant gave the call up or vanished: claim it again."""


class Deduplicator:
    """Shares one upstream call among identical requests.

    Args:
        redis: an asyncio Redis client shared by the replicas (None: this process
            only). Its socket timeout must exceed one second (the blocking read).
        window_s: an identical call answered this recently is shared (default 60;
            0: calls in flight only).
        lease_s: a claim's lifetime without a heartbeat (default 2).
        prefix: Redis key prefix.
        max_recent: answers kept for the window in this process when there is no
            Redis (default 10,000; the oldest go first).
        retry_after_s: after a Redis error, calls go on alone this long (default 5).
        clock: monotonic seconds (default ``time.monotonic``).

    Example:
        >>> async def demo():
        ...     dedup, calls = Deduplicator(), []
        ...     async def fetch():
        ...         calls.append(1)
        ...         await asyncio.sleep(0.01)
        ...         return {"answer": 42}
        ...     shared = await asyncio.gather(*(dedup.call("k", fetch) for _ in range(5)))
        ...     return len(calls), [how for _, how in shared]
        >>> asyncio.run(demo())
        (1, [None, 'in_flight', 'in_flight', 'in_flight', 'in_flight'])
    """

    def __init__(
        self,
        *,
        redis: Redis | None = None,
        window_s: float = DEFAULT_DEDUP_WINDOW_S,
        lease_s: float = DEFAULT_LEASE_S,
        prefix: str = "tokenomy:dedup:",
        max_recent: int = 10_000,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s < 0 or lease_s <= 0 or max_recent < 0 or retry_after_s < 0:
            raise ConfigError(
                "window_s, max_recent and retry_after_s must be >= 0 and lease_s > 0; got "
                f"{window_s!r}, {max_recent!r}, {retry_after_s!r}, {lease_s!r}."
            )
        self.redis = redis
        self.window_s = window_s
        self.lease_s = lease_s
        self.prefix = prefix
        self.max_recent = max_recent
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.stats = DedupStats()
        self._flights: dict[str, _Flight] = {}
        self._recent: OrderedDict[str, tuple[float, Json]] = OrderedDict()
        self._held: dict[str, str] = {}  # lock key -> our token, renewed by the heartbeat
        self._heartbeat: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self._scripts: dict[str, Any] = {}

    # -- what the gateway calls ----------------------------------------------------------

    async def call(self, key: str, fetch: Callable[[], Awaitable[Json]]) -> tuple[Json, str | None]:
        """``(answer, how)``: ``how`` is None when this request's call made it, else
        ``"in_flight"`` or ``"window"``."""
        flight, first = self._join(key, _Source(fetch=fetch))
        try:
            while not flight.done:
                await flight.changed.wait()
        finally:
            self._leave(flight)
        if flight.error is not None:
            raise flight.error
        assert flight.answer is not None
        how = self._how(flight, first)
        self._note(how)
        return flight.answer, how

    async def stream(
        self,
        key: str,
        start: Callable[[], AsyncIterator[Json]],
        *,
        merge: Callable[[Sequence[Json]], Json],
        replay: Callable[[Json], Iterable[Json]],
        shared: Callable[[str], None] | None = None,
    ) -> AsyncGenerator[Json, None]:
        """The chunks of the call for ``key``; ``shared(how)`` is called before the first
        chunk when another request's call answers. A call that gives a whole answer
        (a non-streaming request, or the window) is replayed as chunks."""
        flight, first = self._join(key, _Source(start=start, merge=merge))
        sent = 0
        told = False
        try:
            while True:
                changed = flight.changed
                if sent < len(flight.chunks) or flight.done:
                    how = self._how(flight, first)
                    if how is not None and not told and not flight.error:
                        told = True
                        self._note(how)
                        if shared is not None:
                            shared(how)
                while sent < len(flight.chunks):
                    sent += 1
                    yield flight.chunks[sent - 1]
                if flight.done:
                    break
                await changed.wait()
            if flight.error is not None:
                raise flight.error
            if sent == 0 and flight.answer is not None:
                for chunk in replay(flight.answer):
                    yield chunk
        finally:
            self._leave(flight)

    async def aclose(self) -> None:
        """Stop the heartbeat and every flight this process runs."""
        tasks = [f.task for f in self._flights.values() if f.task is not None]
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    @property
    def in_flight(self) -> int:
        """Flights running in this process."""
        return len(self._flights)

    # -- flights in this process -----------------------------------------------------------

    def _join(self, key: str, source: _Source) -> tuple[_Flight, bool]:
        flight = self._flights.get(key)
        if flight is not None:
            flight.consumers += 1
            return flight, False
        flight = _Flight(key)
        flight.consumers = 1
        recent = self._recent_answer(key)
        if recent is not None:
            flight.finish(recent, "window")
            return flight, True
        self._flights[key] = flight
        flight.task = asyncio.get_running_loop().create_task(self._produce(flight, source))
        return flight, True

    def _leave(self, flight: _Flight) -> None:
        flight.consumers -= 1
        if flight.consumers <= 0 and not flight.done and flight.task is not None:
            flight.task.cancel()  # nobody wants it any more: stop the upstream call

    def _how(self, flight: _Flight, first: bool) -> str | None:
        if flight.how is not None:
            return flight.how
        return None if first else "in_flight"

    def _note(self, how: str | None) -> None:
        if how == "window":
            self.stats.window += 1
        elif how == "in_flight":
            self.stats.in_flight += 1

    def _recent_answer(self, key: str) -> Json | None:
        found = self._recent.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._recent[key]
            return None
        return found[1]

    def _remember(self, key: str, answer: Json) -> None:
        if self.window_s <= 0 or self.max_recent == 0:
            return
        self._recent[key] = (self.clock() + self.window_s, answer)
        self._recent.move_to_end(key)
        while len(self._recent) > self.max_recent:
            self._recent.popitem(last=False)

    async def _produce(self, flight: _Flight, source: _Source) -> None:
        try:
            if self._shared():
                await self._produce_shared(flight, source)
            else:
                flight.finish(await self._call(flight, source), None)
                self._remember(flight.key, flight.answer or {})
        except asyncio.CancelledError:
            flight.fail(UpstreamError(499, _error("every request for this call left")))
            raise
        except BaseException as exc:
            flight.fail(exc)
        finally:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]

    async def _call(
        self, flight: _Flight, source: _Source, publish: Callable[[list[Json]], Any] | None = None
    ) -> Json:
        """Call the upstream; each chunk goes to this process's requests at once and,
        with ``publish``, to Redis a few at a time."""
        self.stats.calls += 1
        if source.fetch is not None:
            return await source.fetch()
        assert source.start is not None and source.merge is not None
        pending: list[Json] = []
        flushed = self.clock()
        async for chunk in source.start():
            flight.push((chunk,))
            if publish is not None:
                pending.append(chunk)
                if self.clock() - flushed >= FLUSH_S:
                    await publish(pending)
                    pending, flushed = [], self.clock()
        if publish is not None and pending:
            await publish(pending)
        return source.merge(flight.chunks)

    # -- across replicas ---------------------------------------------------------------

    def _shared(self) -> bool:
        return self.redis is not None and self.clock() >= self._down_until

    def _redis_failed(self, exc: BaseException) -> None:
        self.stats.redis_errors += 1
        if self.clock() >= self._down_until:
            log.warning(
                "tokenomy serve: de-duplication across replicas is off for %.0f s: Redis "
                "failed (%s: %s); identical calls are still shared within each process.",
                self.retry_after_s,
                type(exc).__name__,
                exc,
            )
        self._down_until = self.clock() + self.retry_after_s

    def _keys(self, key: str) -> tuple[str, str]:
        return f"{self.prefix}{key}:done", f"{self.prefix}{key}:lock"

    def _events(self, key: str, token: str) -> str:
        return f"{self.prefix}{key}:ev:{token}"

    async def _script(self, name: str, source: str, keys: Sequence[str], *args: Any) -> Any:
        assert self.redis is not None
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(source)
        return await script(keys=list(keys), args=list(args))

    async def _produce_shared(self, flight: _Flight, source: _Source) -> None:
        done_key, lock_key = self._keys(flight.key)
        while True:
            try:
                token = uuid.uuid4().hex
                state, value = await self._script(
                    "acquire", _ACQUIRE, (done_key, lock_key), token, int(self.lease_s * 1000)
                )
            except Exception as exc:
                self._redis_failed(exc)
                flight.finish(await self._call(flight, source), None)
                self._remember(flight.key, flight.answer or {})
                return
            if state == b"done":
                flight.finish(json.loads(value), "window")
                return
            if state == b"lead":
                await self._lead(flight, source, lock_key, value.decode())
                return
            if not value:  # the claim lapsed between the two commands: claim again
                continue
            try:
                await self._follow(flight, lock_key, value.decode())
                return
            except UpstreamError:
                raise
            except _VacantError:
                if flight.chunks:  # already relayed: the answer cannot start over
                    raise UpstreamError(
                        502, _error("the replica making this call stopped mid-stream; retry")
                    ) from None
            except Exception as exc:
                if flight.chunks:
                    raise
                self._redis_failed(exc)
                flight.finish(await self._call(flight, source), None)
                return

    async def _lead(self, flight: _Flight, source: _Source, lock_key: str, token: str) -> None:
        events = self._events(flight.key, token)
        linger_ms = int(max(self.window_s, self.lease_s * 2) * 1000)
        publishing = True

        async def publish(chunks: list[Json]) -> None:
            nonlocal publishing
            if not publishing or self.redis is None:
                return
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.xadd(events, {"t": "chunks", "d": json.dumps(chunks)})
                pipe.pexpire(events, linger_ms)
                await pipe.execute()
            except Exception as exc:  # the call goes on for this process's requests
                publishing = False
                self._redis_failed(exc)

        async def close(kind: str, data: str) -> None:
            done_key = self._keys(flight.key)[0]
            window_ms = int(self.window_s * 1000)
            try:
                await self._script(
                    "finish",
                    _FINISH,
                    (done_key, lock_key, events),
                    token,
                    kind,
                    data,
                    linger_ms,
                    window_ms,
                )
            except Exception as exc:
                self._redis_failed(exc)

        self._held[lock_key] = token
        self._start_heartbeat()
        try:
            answer = await self._call(flight, source, publish)
        except UpstreamError as exc:
            self._held.pop(lock_key, None)
            if exc.status in _SHARED_STATUSES:  # about the request: share the refusal
                await close("error", json.dumps([exc.status, exc.body, exc.model]))
            else:
                await close("abandon", "")
            raise
        except BaseException:
            self._held.pop(lock_key, None)
            await asyncio.shield(close("abandon", ""))
            raise
        self._held.pop(lock_key, None)
        flight.finish(answer, None)
        await close("done", json.dumps(answer))

    async def _follow(self, flight: _Flight, lock_key: str, token: str) -> None:
        assert self.redis is not None
        events = self._events(flight.key, token)
        last = "0-0"
        while True:
            read: Any = await self.redis.xread({events: last}, count=512, block=BLOCK_MS)
            if not read:
                if await self.redis.get(lock_key) != token.encode():
                    read = await self.redis.xread({events: last}, count=512)
                    if not read:
                        raise _VacantError
                else:
                    continue
            for entry_id, fields in read[0][1]:
                last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                kind, data = fields.get(b"t"), fields.get(b"d", b"")
                if kind == b"chunks":
                    flight.how = "in_flight"
                    flight.push(json.loads(data))
                elif kind == b"done":
                    flight.finish(json.loads(data), "in_flight")
                    return
                elif kind == b"error":
                    status, body, model = json.loads(data)
                    flight.how = "in_flight"
                    raise UpstreamError(int(status), body, str(model))
                elif kind == b"abandon":
                    raise _VacantError

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        """Renew this process's claims (one round trip for all) every quarter of a
        lease, while it holds any."""
        assert self.redis is not None
        while self._held:
            await asyncio.sleep(self.lease_s / 4)
            held = list(self._held.items())
            if not held:
                continue
            try:
                renew = self._scripts.get("renew")
                if renew is None:
                    renew = self._scripts["renew"] = self.redis.register_script(_RENEW)
                pipe = self.redis.pipeline(transaction=False)
                for lock_key, token in held:
                    await renew(
                        keys=[lock_key], args=[token, int(self.lease_s * 1000)], client=pipe
                    )
                await pipe.execute()
            except Exception as exc:
                self._redis_failed(exc)


def _error(message: str) -> Mapping[str, Any]:
    return {"error": {"message": message, "type": "upstream_error", "param": None, "code": None}}
