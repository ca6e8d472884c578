"""Failures an optimization passes over: counted, and each kind logged once."""

from __future__ import annotations

import logging
import threading

__all__ = ["FailureLog"]


class FailureLog:
    """Counts the failures a component survives and logs the first of each kind.

    An optimization must never fail its caller's call: it catches the error at its
    documented boundary, calls :meth:`record`, and goes on without optimizing. The
    first failure of each exception type is logged as a warning with its message;
    repeats go to debug level, so that an embedder that cannot load does not write a
    warning per call. :attr:`count` counts them all. Thread-safe.

    Args:
        logger: where to log (the component's ``logging.getLogger(__name__)``).
        what: what failed, for the message, e.g. "compression".
        fallback: what happens instead, e.g. "the documents are returned uncompressed".

    Example:
        >>> failures = FailureLog(logging.getLogger("demo"), "compression", "sent as it is")
        >>> failures.record(RuntimeError("no model"))
        >>> failures.record(RuntimeError("no model"))
        >>> failures.count
        2
    """

    def __init__(self, logger: logging.Logger, what: str, fallback: str) -> None:
        self._logger = logger
        self._what = what
        self._fallback = fallback
        self._count = 0
        self._seen: set[type[BaseException]] = set()
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Failures recorded so far."""
        return self._count

    def record(self, exc: BaseException) -> None:
        """Count ``exc`` and log it (a warning the first time its type is seen)."""
        with self._lock:
            self._count += 1
            count = self._count
            first = type(exc) not in self._seen
            self._seen.add(type(exc))
        self._logger.log(
            logging.WARNING if first else logging.DEBUG,
            "tokenomy: %s failed (%s: %s); %s (failure %d; repeats of this kind are "
            "logged at debug level).",
            self._what,
            type(exc).__name__,
            exc,
            self._fallback,
            count,
        )
