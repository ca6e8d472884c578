"""Single-flight: concurrent identical requests in one process share one model call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class _Call:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """Runs a function once per key at a time; callers arriving meanwhile wait for it.

    If the leader's call raises, each waiting caller runs the function itself
    instead of inheriting the error, so one failure never fails several requests.

    Example:
        >>> flight = SingleFlight()
        >>> flight.do("k", lambda: 42)
        (42, False)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}
        self._async: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}
        self.shared = 0
        """Calls that were answered by another caller's in-flight call."""

    def do(self, key: Hashable, fn: Callable[[], T]) -> tuple[T, bool]:
        """``(fn(), shared)``: ``shared`` is True when another caller's call answered."""
        with self._lock:
            existing = self._calls.get(key)
            call = existing if existing is not None else self._calls.setdefault(key, _Call())
        if existing is not None:
            call.done.wait()
            if call.error is None:
                with self._lock:
                    self.shared += 1
                return call.result, True
            return fn(), False
        try:
            call.result = fn()
            return call.result, False
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                self._calls.pop(key, None)
            call.done.set()

    async def ado(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The async twin of :meth:`do` (per event loop)."""
        loop_key = (id(asyncio.get_running_loop()), key)
        future = self._async.get(loop_key)
        if future is not None:
            try:
                result = await asyncio.shield(future)
            except Exception:
                return await fn(), False
            self.shared += 1
            return result, True
        future = asyncio.get_running_loop().create_future()
        self._async[loop_key] = future
        try:
            result = await fn()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-run, nobody must re-raise it
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            self._async.pop(loop_key, None)
