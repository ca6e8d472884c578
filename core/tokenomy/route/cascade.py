"""Cascades and fallback chains: try the cheap model first, never fail while a model is left.

:class:`FallbackChain` calls models in efficiency order and moves on when one
raises, times out or reports a context overflow, with a bounded number of
attempts. :class:`Cascade` also moves on when an answer fails a check: empty, a
refusal, a validator that says no, or a mean log-probability under a floor. Both
record every attempt (model, outcome, cost), so the cost of an escalation is
accounted in full.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tokenomy.errors import AllModelsFailedError, ConfigError

__all__ = [
    "Attempt",
    "Cascade",
    "CascadeResult",
    "FallbackChain",
    "astream_first",
    "is_context_overflow",
    "stream_first",
]

log = logging.getLogger(__name__)
R = TypeVar("R")

_OVERFLOW = re.compile(
    r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long|"
    r"max_tokens|token limit|reduce the length",
    re.I,
)
_REFUSAL = re.compile(
    r"^\s*(?:I'm sorry|I am sorry|I can(?:no|')t (?:help|assist|answer|do)|"
    r"I (?:am|'m) (?:not able|unable) to|As an AI)",
    re.I,
)


def is_context_overflow(error: BaseException) -> bool:
    """Whether an exception says the request did not fit the model's context window."""
    return bool(_OVERFLOW.search(f"{type(error).__name__}: {error}"))


@dataclass(frozen=True)
class Attempt:
    """One call of a chain: the model, what happened, what it cost."""

    model: str
    outcome: str  # "ok", "error", "timeout", "overflow", "rejected"
    detail: str = ""
    cost_usd: float = 0.0


@dataclass(frozen=True)
class CascadeResult(Generic[R]):
    """The answer, the model that gave it, and every attempt on the way."""

    answer: R
    model: str
    attempts: tuple[Attempt, ...]

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    @property
    def escalated(self) -> bool:
        return len(self.attempts) > 1


class FallbackChain:
    """Calls models in order until one answers.

    Args:
        models: model names, cheapest or most preferred first.
        timeout_s: per-call time limit (None: none); a sync call that times out is
            abandoned to its thread.
        max_attempts: total calls at most (default: one per model).
        cost: ``cost(model, answer)`` in USD, for the accounting (default 0).
    """

    def __init__(
        self,
        models: Sequence[str],
        *,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        cost: Callable[[str, object], float] | None = None,
    ) -> None:
        if not models:
            raise ConfigError("a fallback chain needs at least one model.")
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0; got {timeout_s!r}.")
        self.models = list(models)
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts or len(self.models)
        self._cost = cost

    def _accept(self, model: str, answer: object) -> Attempt | None:
        """None if the answer is good; an Attempt explaining why not otherwise."""
        return None

    def _attempt(self, model: str, answer: object) -> Attempt:
        cost = self._cost(model, answer) if self._cost else 0.0
        return Attempt(model, "ok", cost_usd=cost)

    def run(self, call: Callable[[str], R]) -> CascadeResult[R]:
        """``call(model)`` on each model in turn until one gives an accepted answer."""
        attempts: list[Attempt] = []
        for model in self.models[: self.max_attempts]:
            try:
                answer = self._call(call, model)
            except Exception as exc:  # the user's call must not fail while a model is left
                attempts.append(_failed(model, exc))
                log.warning("tokenomy: %s failed (%s); trying the next model.", model, exc)
                continue
            done = self._settle(model, answer, attempts)
            if done is not None:
                return done
        raise AllModelsFailedError(_summary(attempts), attempts)

    async def arun(self, call: Callable[[str], Awaitable[R]]) -> CascadeResult[R]:
        """:meth:`run` for a coroutine ``call``."""
        attempts: list[Attempt] = []
        for model in self.models[: self.max_attempts]:
            try:
                answer = await asyncio.wait_for(call(model), self.timeout_s)
            except Exception as exc:
                attempts.append(_failed(model, exc))
                log.warning("tokenomy: %s failed (%s); trying the next model.", model, exc)
                continue
            done = self._settle(model, answer, attempts)
            if done is not None:
                return done
        raise AllModelsFailedError(_summary(attempts), attempts)

    def _settle(self, model: str, answer: R, attempts: list[Attempt]) -> CascadeResult[R] | None:
        """Record the answer; the result if it is accepted (or the last chance)."""
        rejected = self._accept(model, answer)
        if rejected is None:
            attempts.append(self._attempt(model, answer))
        elif model != self.models[: self.max_attempts][-1]:
            attempts.append(rejected)
            return None
        else:  # the last model's answer is kept rather than failing the call
            attempts.append(
                Attempt(model, "ok", f"kept, last model: {rejected.detail}", rejected.cost_usd)
            )
        return CascadeResult(answer, model, tuple(attempts))

    def _call(self, call: Callable[[str], R], model: str) -> R:
        if self.timeout_s is None:
            return call(model)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            return pool.submit(call, model).result(timeout=self.timeout_s)
        finally:
            pool.shutdown(wait=False)


class Cascade(FallbackChain):
    """A fallback chain that also escalates when an answer fails a check.

    Args:
        models: cheapest first.
        text: the answer's text (default ``str``), for the empty and refusal checks.
        check: ``check(answer) -> bool``; False escalates (a format validator…).
        logprob: the answer's mean token log-probability, or None when the provider
            gives none; under ``min_logprob`` escalates.
        min_logprob: the floor (default None: not checked).
        timeout_s / max_attempts / cost: as for :class:`FallbackChain`.

    The last model's answer is kept even if it fails a check (marked in the attempt).
    """

    def __init__(
        self,
        models: Sequence[str],
        *,
        text: Callable[[object], str] = str,
        check: Callable[[object], bool] | None = None,
        logprob: Callable[[object], float | None] | None = None,
        min_logprob: float | None = None,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        cost: Callable[[str, object], float] | None = None,
    ) -> None:
        super().__init__(models, timeout_s=timeout_s, max_attempts=max_attempts, cost=cost)
        self._text = text
        self._check = check
        self._logprob = logprob
        self.min_logprob = min_logprob

    def _accept(self, model: str, answer: object) -> Attempt | None:
        cost = self._cost(model, answer) if self._cost else 0.0
        text = self._text(answer)
        if not text.strip():
            return Attempt(model, "rejected", "empty answer", cost)
        if _REFUSAL.search(text):
            return Attempt(model, "rejected", "refusal", cost)
        if self._check is not None and not self._check(answer):
            return Attempt(model, "rejected", "check failed", cost)
        if self.min_logprob is not None and self._logprob is not None:
            value = self._logprob(answer)
            if value is not None and value < self.min_logprob:
                return Attempt(model, "rejected", f"mean logprob {value:.2f}", cost)
        return None


def stream_first(
    order: Sequence[str], start: Callable[[str], Iterator[R]], attempts: list[Attempt]
) -> Iterator[R]:
    """Stream from the first model in ``order`` that answers; fall back only before the
    first item was yielded (half an answer cannot be taken back). Every attempt is
    appended to ``attempts``; the last one names the model that streamed."""
    for model in order:
        started = False
        try:
            for item in start(model):
                started = True
                yield item
        except Exception as exc:
            if started:
                raise
            attempts.append(_failed(model, exc))
            continue
        attempts.append(Attempt(model, "ok"))
        return
    raise AllModelsFailedError(_summary(attempts), attempts)


async def astream_first(
    order: Sequence[str], start: Callable[[str], AsyncIterator[R]], attempts: list[Attempt]
) -> AsyncIterator[R]:
    """:func:`stream_first` for async streams."""
    for model in order:
        started = False
        try:
            async for item in start(model):
                started = True
                yield item
        except Exception as exc:
            if started:
                raise
            attempts.append(_failed(model, exc))
            continue
        attempts.append(Attempt(model, "ok"))
        return
    raise AllModelsFailedError(_summary(attempts), attempts)


def _failed(model: str, exc: BaseException) -> Attempt:
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
        return Attempt(model, "timeout", str(exc) or "timed out")
    if is_context_overflow(exc):
        return Attempt(model, "overflow", str(exc)[:200])
    return Attempt(model, "error", f"{type(exc).__name__}: {exc}"[:200])


def _summary(attempts: Sequence[Attempt]) -> str:
    tried = "; ".join(f"{a.model}: {a.outcome} ({a.detail})" for a in attempts)
    return f"every model failed: {tried}. Check the models' credentials and limits."
