"""The never-fail boundary every optimization stage runs inside."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from tokenomy.errors import BudgetExceededError
from tokenomy.pipeline.request import Trace

__all__ = ["Guard", "in_thread"]

log = logging.getLogger("tokenomy.pipeline.pipeline")

T = TypeVar("T")


class Guard:
    """Runs a stage's step; a step that raises is skipped, logged once per stage and
    error type, counted in :attr:`failures` and named in the call's trace. Only a
    spend limit (:class:`~tokenomy.errors.BudgetExceededError`) passes through.

    Example:
        >>> guard, trace = Guard(), Trace()
        >>> guard("cache", trace, lambda: 1 / 0) is None, dict(guard.failures)
        (True, {'cache': 1})
    """

    def __init__(self) -> None:
        self.failures: Counter[str] = Counter()
        """Stage failures by stage name (each one skipped the stage for that call)."""
        self._logged: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, stage: str, trace: Trace, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None with the stage skipped; the time it took is added to the
        stage's (``Trace.stage_ms``)."""
        start = time.perf_counter()
        try:
            return fn()
        except BudgetExceededError:
            raise
        except Exception as exc:  # the never-fail boundary of every optimization stage
            self.failed(stage, exc, trace)
            return None
        finally:
            trace.timed(stage, time.perf_counter() - start)

    def failed(
        self, stage: str, exc: BaseException, trace: Trace, outcome: str = "skipped"
    ) -> None:
        """Count, log (once per stage and error type) and trace a failed step."""
        key = (stage, type(exc).__name__)
        with self._lock:
            self.failures[stage] += 1
            first = key not in self._logged
            self._logged.add(key)
        if first:
            log.warning(
                "tokenomy: the %s stage failed (%s: %s) and was skipped; the call goes on "
                "(logged once per stage and error type; see Pipeline.failures).",
                stage,
                type(exc).__name__,
                exc,
            )
        trace.add(stage, outcome, f"{type(exc).__name__}: {exc}"[:200])


async def in_thread(blocking: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread when it blocks, inline when it does not (a
    thread hop costs milliseconds on a busy event loop)."""
    if blocking:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)
