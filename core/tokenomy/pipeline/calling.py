"""The pipeline's routing and provider call: which models to try, in what order, and
the call (sync, async, streamed) with fallback to the next model when one fails.

A stream's ``start`` may answer with :class:`Finished` (a model that cannot stream:
its whole answer), which is replayed as chunks through the codec, so every front
door serves a streaming caller from any model."""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from tokenomy.pipeline.request import Sent, Trace
from tokenomy.route import FallbackChain, Router
from tokenomy.route.cascade import Attempt, astream_first, stream_first
from tokenomy.text.messages import last_user_message, message_text

if TYPE_CHECKING:
    from tokenomy.budget import Budget

__all__ = ["CallStage", "Finished", "astreamed", "note_attempts", "streamed"]

R = TypeVar("R")
C = TypeVar("C")


@dataclass(frozen=True)
class Finished(Generic[R]):
    """What a stream's ``start`` returns for a model that cannot stream: the model's
    whole answer, which the pipeline replays as chunks through the codec and stores and
    records as it would the stream; it is charged in full even when the caller stops
    the replay early (the model generated all of it).

    Example:
        >>> from tokenomy.pipeline import Pipeline, Request, TextCodec
        >>> chunks = Pipeline().stream(
        ...     Request(prompt="hi"), lambda sent: Finished("hello there"), TextCodec()
        ... )
        >>> list(chunks)
        ['hello ', 'there']
    """

    result: R


def streamed(
    start: Callable[[Sent], Iterator[C] | Finished[R]],
    replay: Callable[[R], Iterable[C]],
    whole: list[R],
) -> Callable[[Sent], Iterator[C]]:
    """``start`` whose :class:`Finished` answers are replayed as chunks (and kept in
    ``whole``: a replay the caller stops was still generated, and is charged, in full)."""

    def begin(sent: Sent) -> Iterator[C]:
        out = start(sent)
        if not isinstance(out, Finished):
            return out
        whole.append(out.result)
        return iter(replay(out.result))

    return begin


def astreamed(
    start: Callable[[Sent], AsyncIterator[C] | Awaitable[AsyncIterator[C] | Finished[R]]],
    replay: Callable[[R], Iterable[C]],
    whole: list[R],
) -> Callable[[Sent], AsyncIterator[C]]:
    """``start`` as an async stream: an awaitable ``start`` (one that opens its stream,
    or answers :class:`Finished`) is awaited, a finished answer replayed as chunks (and
    kept in ``whole``, as in :func:`streamed`)."""

    def begin(sent: Sent) -> AsyncIterator[C]:
        out = start(sent)
        if isinstance(out, AsyncIterator):  # a stream already: no extra layer
            return out
        return _awaited(out, replay, whole)

    return begin


async def _awaited(
    opening: Awaitable[AsyncIterator[C] | Finished[R]],
    replay: Callable[[R], Iterable[C]],
    whole: list[R],
) -> AsyncIterator[C]:
    out = await opening
    if isinstance(out, Finished):
        whole.append(out.result)
        for chunk in replay(out.result):
            yield chunk
        return
    try:
        async for chunk in out:
            yield chunk
    finally:
        await aclose_stream(out)


async def aclose_stream(stream: object) -> None:
    """Close a provider's stream stopped early now, not when it is collected."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


class CallStage:
    """Routing among the front door's models and calling the provider with fallback.

    Args:
        router: picks the model of each call (None: the front door's one model).
        models: the names the front door can call (None: the router's whole table).
        fallback: on a failed call, try the router's other models.
        timeout_s: per-model time limit before falling back.
    """

    def __init__(
        self,
        router: Router | None,
        models: Collection[str] | None,
        fallback: bool,
        timeout_s: float | None,
    ) -> None:
        self.router = router
        self.models = models
        self.fallback = fallback
        self.timeout_s = timeout_s

    def route(self, sent: Sent, trace: Trace, budget: Budget | None) -> list[str | None]:
        """The models to try, in order: the router's choice, then (with fallback) the
        others the front door can call."""
        router = self.router
        assert router is not None
        request = sent.request
        if sent.prompt is not None:
            text, tokens = sent.prompt, router.counter.count(sent.prompt)
        else:
            current = last_user_message(sent.messages) or sent.messages[-1]
            text = message_text(current)
            tokens = router.counter.count_messages(sent.messages, tools=request.tools)
        # the tightest limit covering this request, as last seen (no round trip)
        status = budget.status(request.labels) if budget is not None else None
        low = status if status is not None and status.state == "low" else None
        decision = router.route_or_best(
            text, input_tokens=tokens, require=request.require, budget=low, among=self.models
        )
        trace.route = {
            "model": decision.model,
            "reason": decision.reason,
            "success": dict(decision.success),
            "attempts": [],
        }
        trace.add("route", "routed", f"{decision.model}: {decision.reason}")
        order: list[str | None] = [decision.model]
        if self.fallback:
            order += [
                m.name
                for m in router.models
                if m.name != decision.model and (self.models is None or m.name in self.models)
            ]
        return order

    def best(self) -> str:
        """The highest-quality model the front door can call (routing failed)."""
        assert self.router is not None
        specs = [m for m in self.router.models if self.models is None or m.name in self.models]
        return max(specs, key=lambda m: m.quality).name

    # -- the provider call ----------------------------------------------------------------

    def _chain(self, order: list[str | None]) -> FallbackChain:
        return FallbackChain([str(n) for n in order], timeout_s=self.timeout_s)

    def invoke(
        self, order: list[str | None], sent: Sent, call: Callable[[Sent], R], trace: Trace
    ) -> tuple[R, str | None]:
        """``call`` on each model of ``order`` until one answers: the answer and its
        model (a single model without a time limit: the provider's own error)."""
        if len(order) == 1 and self.timeout_s is None:  # the provider's own error, unwrapped
            result = call(replace(sent, model=order[0]))
            note_attempts(trace, [Attempt(order[0] or "", "ok")])
            return result, order[0]
        done = self._chain(order).run(lambda name: call(replace(sent, model=name)))
        note_attempts(trace, done.attempts)
        return done.answer, done.model

    async def ainvoke(
        self,
        order: list[str | None],
        sent: Sent,
        call: Callable[[Sent], Awaitable[R]],
        trace: Trace,
    ) -> tuple[R, str | None]:
        if len(order) == 1 and self.timeout_s is None:
            result = await call(replace(sent, model=order[0]))
            note_attempts(trace, [Attempt(order[0] or "", "ok")])
            return result, order[0]
        done = await self._chain(order).arun(lambda name: call(replace(sent, model=name)))
        note_attempts(trace, done.attempts)
        return done.answer, done.model

    def stream(
        self,
        order: list[str | None],
        sent: Sent,
        start: Callable[[Sent], Iterator[C]],
        attempts: list[Attempt],
    ) -> Iterator[C]:
        if len(order) == 1:
            yield from start(replace(sent, model=order[0]))
            attempts.append(Attempt(order[0] or "", "ok"))
            return
        yield from stream_first(
            [str(n) for n in order], lambda name: start(replace(sent, model=name)), attempts
        )

    async def astream(
        self,
        order: list[str | None],
        sent: Sent,
        start: Callable[[Sent], AsyncIterator[C]],
        attempts: list[Attempt],
    ) -> AsyncIterator[C]:
        if len(order) == 1:
            stream = start(replace(sent, model=order[0]))
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await aclose_stream(stream)
            attempts.append(Attempt(order[0] or "", "ok"))
            return
        async for chunk in astream_first(
            [str(n) for n in order], lambda name: start(replace(sent, model=name)), attempts
        ):
            yield chunk


def note_attempts(trace: Trace, attempts: Sequence[Attempt]) -> None:
    """Put the models tried and how each ended in the trace (and the route)."""
    if trace.route is not None:
        trace.route["model"] = attempts[-1].model if attempts else trace.route["model"]
        trace.route["attempts"] = [
            {"model": a.model, "outcome": a.outcome, "detail": a.detail} for a in attempts
        ]
    failed = [a for a in attempts if a.outcome != "ok"]
    if failed:
        trace.add("call", "fallback", "; ".join(f"{a.model}: {a.outcome}" for a in failed))
