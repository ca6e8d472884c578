"""Single-flight: concurrent identical requests in one process share one model call.

The first caller of a key leads: it makes the call and hands its result to every
caller that arrived meanwhile. If the leader fails (or gives up: a cancelled
stream, a leader that never reports back within ``wait_s``), the flight passes to
*one* waiter, which leads in turn while the others keep waiting on the same
flight, so a failure costs one more call, not one per waiter. Waiting works across
threads and event loops: a thread waits on a condition, a coroutine on a future of
its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, Literal, TypeVar

__all__ = ["Flight", "SingleFlight"]

T = TypeVar("T")

DEFAULT_WAIT_S = 300.0
"""How long a waiter waits for a leader before taking the call over (seconds)."""

State = Literal["running", "vacant", "done"]


class Flight:
    """One in-flight call of a key. Its leader calls :meth:`resolve` or :meth:`abandon`."""

    __slots__ = (
        "_active",
        "_cond",
        "_epoch",
        "_futures",
        "_owner",
        "key",
        "result",
        "state",
        "waiters",
    )

    def __init__(self, key: Hashable, owner: SingleFlight[Any]) -> None:
        self.key = key
        self.result: Any = None
        self.state: State = "running"
        self.waiters = 0
        """Callers that have waited on this flight (threads and coroutines)."""
        self._active = 0
        self._epoch = 0  # bumped each time the call passes to a new leader
        self._owner = owner
        self._cond = threading.Condition()
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def done(self) -> bool:
        return self.state == "done"

    def resolve(self, result: Any) -> None:
        """The leader's call succeeded: every waiter gets ``result``."""
        with self._cond:
            if self.state == "done":
                return
            self.state, self.result = "done", result
            self._owner._forget(self)
            self._wake()

    def abandon(self) -> None:
        """The leader's call failed or was cancelled: the next waiter (or the next
        caller of the key) takes the call over."""
        with self._cond:
            if self.state == "running":
                self.state = "vacant"
                if not self._active:  # nobody to hand over to: the next caller starts afresh
                    self._owner._forget(self)
                self._wake()

    def _wake(self) -> None:
        self._cond.notify_all()
        futures, self._futures = self._futures, []
        for loop, future in futures:
            loop.call_soon_threadsafe(_set, future)

    def _take(self) -> bool | None:
        """Under the lock: True if done, False if this caller now leads, None to wait."""
        if self.state == "done":
            return True
        if self.state == "vacant":
            self.state = "running"
            self._epoch += 1
            return False
        return None

    def _timed_out(self, epoch: int) -> bool:
        """Under the lock, after a wait timed out: True if this caller takes the call
        over (no one else has since ``epoch``)."""
        if self._epoch != epoch:
            return False
        self._epoch += 1
        return True

    def wait(self, timeout: float | None) -> bool:
        """Block until the flight is done (True) or this caller must lead it (False:
        the leader failed, or did not report back within ``timeout`` seconds)."""
        with self._cond:
            self.waiters += 1
            self._active += 1
            try:
                epoch = self._epoch
                while (outcome := self._take()) is None:
                    if not self._cond.wait(timeout):
                        if self._timed_out(epoch):
                            return False  # the leader is gone or stuck: take the call over
                        epoch = self._epoch  # another waiter took it: wait for that one
                return outcome
            finally:
                self._active -= 1

    async def await_(self, timeout: float | None) -> bool:
        """:meth:`wait` for a coroutine, without holding a thread."""
        loop = asyncio.get_running_loop()
        with self._cond:
            self.waiters += 1
            self._active += 1
            epoch = self._epoch
        try:
            while True:
                with self._cond:
                    outcome = self._take()
                    if outcome is not None:
                        return outcome
                    future: asyncio.Future[None] = loop.create_future()
                    self._futures.append((loop, future))
                try:
                    await asyncio.wait_for(asyncio.shield(future), timeout)
                except asyncio.TimeoutError:
                    with self._cond:
                        if self._timed_out(epoch):
                            return False
                        epoch = self._epoch
        finally:
            with self._cond:
                self._active -= 1


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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
            if flight is None:
                flight = self._calls[key] = Flight(key, self)
                return flight, True
        with flight._cond:
            return flight, flight._take() is False

    def current(self, key: Hashable) -> Flight | None:
        """The key's flight in progress, if any."""
        with self._lock:
            return self._calls.get(key)

    def _forget(self, flight: Flight) -> None:
        with self._lock:
            if self._calls.get(flight.key) is flight:
                del self._calls[flight.key]

    def _count_shared(self) -> None:
        with self._lock:
            self.shared += 1

    def do(self, key: Hashable, fn: Callable[[], T]) -> tuple[T, bool]:
        """``(fn(), shared)``: ``shared`` is True when another caller's call answered."""
        flight, leader = self.join(key)
        if not leader and flight.wait(self.wait_s):
            self._count_shared()
            return flight.result, True
        try:
            result = fn()
        except BaseException:
            flight.abandon()
            raise
        flight.resolve(result)
        return result, False

    async def ado(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The async twin of :meth:`do`."""
        flight, leader = self.join(key)
        if not leader and await flight.await_(self.wait_s):
            self._count_shared()
            return flight.result, True
        try:
            result = await fn()
        except BaseException:
            flight.abandon()
            raise
        flight.resolve(result)
        return result, False
