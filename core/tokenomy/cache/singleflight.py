"""Single-flight: concurrent identical requests in one process share one model call.

The first caller of a key leads: it makes the call and hands its result to every
caller that arrived meanwhile. If the leader fails (or gives up: a cancelled
stream, a leader that never reports back within ``wait_s``), the call passes to
*one* waiter, which leads in turn while the others keep waiting, so a failure
costs one more call, not one per waiter. Waiting works across threads and event
loops: a thread waits on an event, a coroutine on a future of its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["Flight", "SingleFlight"]

T = TypeVar("T")

DEFAULT_WAIT_S = 300.0
"""How long a waiter waits for a leader before taking the call over (seconds)."""


class Flight:
    """One in-flight call of a key. The leader calls :meth:`resolve` or :meth:`abandon`."""

    __slots__ = ("_done", "_futures", "_lock", "_owner", "key", "ok", "result")

    def __init__(self, key: Hashable, owner: SingleFlight[Any]) -> None:
        self.key = key
        self.ok = False
        self.result: Any = None
        self._owner = owner
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def resolve(self, result: Any) -> None:
        """The leader's call succeeded: waiters get ``result``."""
        self._finish(True, result)

    def abandon(self) -> None:
        """The leader's call failed or was cancelled: one waiter takes the call over."""
        self._finish(False, None)

    def _finish(self, ok: bool, result: Any) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.ok, self.result = ok, result
            self._owner._forget(self)
            self._done.set()
            futures, self._futures = self._futures, []
        for loop, future in futures:
            loop.call_soon_threadsafe(_set, future, ok)

    def wait(self, timeout: float | None) -> bool:
        """Block until the leader finishes; True if it succeeded."""
        if not self._done.wait(timeout):
            self.abandon()  # the leader is gone or stuck: the call is up for grabs
        return self.ok

    async def await_(self, timeout: float | None) -> bool:
        """:meth:`wait` for a coroutine, without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            if self._done.is_set():
                return self.ok
            self._futures.append((loop, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            self.abandon()
        return self.ok


def _set(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)


class SingleFlight(Generic[T]):
    """Runs a function once per key at a time; callers arriving meanwhile wait for it.

    Args:
        wait_s: how long a waiter waits for the leader before taking over
            (default 300 s; a leader that fails hands over at once).

    Example:
        >>> flight = SingleFlight()
        >>> flight.do("k", lambda: 42)
        (42, False)
    """

    def __init__(self, *, wait_s: float | None = DEFAULT_WAIT_S) -> None:
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._calls: dict[Hashable, Flight] = {}
        self.shared = 0
        """Calls that were answered by another caller's in-flight call."""

    def join(self, key: Hashable) -> tuple[Flight, bool]:
        """``(flight, leader)``: the key's flight, and whether this caller leads it."""
        with self._lock:
            flight = self._calls.get(key)
            if flight is not None:
                return flight, False
            flight = self._calls[key] = Flight(key, self)
            return flight, True

    def _forget(self, flight: Flight) -> None:
        with self._lock:
            if self._calls.get(flight.key) is flight:
                del self._calls[flight.key]

    def _count_shared(self) -> None:
        with self._lock:
            self.shared += 1

    def do(self, key: Hashable, fn: Callable[[], T]) -> tuple[T, bool]:
        """``(fn(), shared)``: ``shared`` is True when another caller's call answered."""
        while True:
            flight, leader = self.join(key)
            if leader:
                try:
                    result = fn()
                except BaseException:
                    flight.abandon()
                    raise
                flight.resolve(result)
                return result, False
            if flight.wait(self.wait_s):
                self._count_shared()
                return flight.result, True

    async def ado(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The async twin of :meth:`do`."""
        while True:
            flight, leader = self.join(key)
            if leader:
                try:
                    result = await fn()
                except BaseException:
                    flight.abandon()
                    raise
                flight.resolve(result)
                return result, False
            if await flight.await_(self.wait_s):
                self._count_shared()
                return flight.result, True
