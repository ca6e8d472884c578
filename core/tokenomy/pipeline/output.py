"""The pipeline's output stage: watching streams, continuing answers cut by their cap.

The cap itself is planned in the pipeline's response-length slot (any
:class:`~tokenomy.pipeline.OutputPlanner`; :class:`tokenomy.output.OutputControl`
is one). With an ``OutputControl``, this module also

* runs each stream (and each cached answer replayed as a stream) through a
  :class:`~tokenomy.output.StreamMonitor`; a stop closes the provider's stream, so
  the provider stops generating, and the trace says what stopped it and the tokens
  saved against the cap;
* continues an answer that ended with ``finish_reason == "length"`` up to
  ``continue_max`` times and joins the parts at a clean seam, or cuts it back to a
  boundary and flags it truncated.

Codecs take part through two optional methods (:class:`OutputCodec`): ``text_of``
(a chunk's text) and ``with_text`` (a result whose text is replaced). A codec
without them is streamed and returned unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from tokenomy.output import (
    CONTINUE_PROMPT,
    OutputControl,
    StreamMonitor,
    check_complete,
    continuation_messages,
    cut_at_boundary,
    join_parts,
    resume_point,
)
from tokenomy.output.continuation import starts_over
from tokenomy.pipeline.guard import Guard
from tokenomy.pipeline.request import Request, Sent, Trace
from tokenomy.pipeline.spend import REFUSED, SpendStage, model_id

if TYPE_CHECKING:
    from tokenomy.pipeline.pipeline import Codec, OutputPlanner

__all__ = [
    "OutputCodec",
    "OutputStage",
    "Parts",
    "Watch",
    "cut_back",
    "next_part",
    "note",
    "watch_for",
    "with_text",
]

R = TypeVar("R")
C = TypeVar("C")
C_contra = TypeVar("C_contra", contravariant=True)


class OutputCodec(Protocol[R, C_contra]):
    """What the output stage needs of a codec (both optional)."""

    def text_of(self, chunk: C_contra) -> str:
        """The text a stream chunk adds."""
        ...

    def with_text(self, result: R, text: str, finish_reason: str | None) -> R:
        """``result`` with its text (and finish reason) replaced."""
        ...


@dataclass
class Watch:
    """One stream under a monitor."""

    monitor: StreamMonitor
    text_of: Callable[[Any], str]

    @property
    def stopped(self) -> bool:
        return self.monitor.stop is not None

    def sync(self, upstream: Iterator[C]) -> Iterator[C]:
        """``upstream``'s chunks until the monitor stops it; then it is closed."""
        try:
            for chunk in upstream:
                stop = self.monitor.feed(self.text_of(chunk))
                yield chunk
                if stop is not None:
                    return
        finally:
            close = getattr(upstream, "close", None)
            if close is not None:
                close()

    async def asynchronous(self, upstream: AsyncIterator[C]) -> AsyncIterator[C]:
        """:meth:`sync` for an async stream."""
        try:
            async for chunk in upstream:
                stop = self.monitor.feed(self.text_of(chunk))
                yield chunk
                if stop is not None:
                    return
        finally:
            aclose = getattr(upstream, "aclose", None)
            if aclose is not None:
                await aclose()

    def report(self, trace: Trace) -> None:
        """Put what the monitor decided in the trace."""
        result = self.monitor.result()
        if result.stopped_by is None:
            trace.add("output", "watched", f"{result.generated_tokens} tokens, no stop")
            return
        trace.add(
            "output",
            "stopped",
            f"{result.stopped_by}: {result.detail}",
            saved_tokens=result.saved_tokens,
        )
        note(
            trace,
            stopped_by=result.stopped_by,
            saved_tokens=result.saved_tokens,
            generated_tokens=result.generated_tokens,
            kept_chars=len(result.kept),
        )


def watch_for(
    control: Any, codec: Any, cap: int | None, count: Callable[[str], int]
) -> Watch | None:
    """A watch for one stream, or None (no control, no criteria, or a codec that
    cannot give a chunk's text)."""
    if not isinstance(control, OutputControl) or not hasattr(codec, "text_of"):
        return None
    monitor = control.monitor(cap=cap, count=count)
    return Watch(monitor, codec.text_of) if monitor is not None else None


def next_part(sent: Sent, text: str) -> Sent:
    """What to send to continue ``text``: the conversation with the answer so far and
    a request to go on (a completion prompt simply grows by the answer)."""
    if sent.prompt is not None:
        return replace(sent, prompt=sent.prompt + text)
    messages = continuation_messages(sent.messages, text, prompt=CONTINUE_PROMPT)
    return replace(sent, messages=messages, origins=(*sent.origins, None, None))


def cut_back(text: str, control: OutputControl, count: Callable[[str], int]) -> str:
    """A truncated answer cut back to its last boundary (unchanged when it ends clean,
    when ``cut_at`` is ``"none"``, or when no boundary is left)."""
    if control.cut_at == "none" or check_complete(text).complete:
        return text
    total = count(text)
    cut = cut_at_boundary(text, max(total - 1, 0), count=count, cut_at=control.cut_at)
    return cut.text or text


def note(trace: Trace, **fields: Any) -> None:
    """Add ``fields`` to what the trace says the output stage did."""
    trace.output = {**(trace.output or {}), **fields}


class Parts(Generic[R]):
    """The parts of an answer being continued (shared by the sync and async paths).

    Args:
        guarded: runs a step, or returns None when it raised (the pipeline's
            never-fail rule for the ``output`` stage).
        cost: prices one continuation call (None: no budget to charge it to).
    """

    def __init__(
        self,
        control: OutputControl,
        sent: Sent,
        model: str | None,
        codec: Any,
        trace: Trace,
        text: str,
        count: Callable[[str], int],
        guarded: Callable[[str, Trace, Callable[[], Any]], Any],
        cost: Callable[[Sent, str | None, Any], float] | None,
    ) -> None:
        self.control, self.sent, self.model = control, sent, model
        self.codec, self.trace, self.count = codec, trace, count
        self.guarded, self.cost = guarded, cost
        self.text = text
        self.reason: str | None = "length"  # the last part's finish reason
        self.parts = 1
        self.stalled = False
        self._base = text
        self._asked: Sent | None = None
        self._cut_loop()

    def _cut_loop(self) -> None:
        """An answer cut by its cap that loops is not continued (going on would only pay
        for more of the loop): it is kept up to where the loop began."""
        if self.reason != "length":
            return
        looped = self.guarded("output", self.trace, lambda: self.control.loop_in(self.text))
        if looped is not None:
            self.text, self.reason, self.stalled = self.text[:looped], "stop", True
            self.trace.add("output", "not continued", "the answer repeats itself")
            note(self.trace, stopped_by="loop")

    def more(self) -> bool:
        return (
            self.reason == "length" and not self.stalled and self.parts <= self.control.continue_max
        )

    def ask(self) -> Sent:
        """What to send for the next part: a completion prompt grows by the whole answer
        so far (the model goes on from its last token); a chat goes on from the
        answer's last clean boundary."""
        self._base = self.text if self.sent.prompt is not None else resume_point(self.text)
        self._asked = replace(next_part(self.sent, self._base), model=self.model)
        return self._asked

    def add(self, more: Any) -> float | None:
        """Join the next part; its cost in dollars (None when it cannot be priced)."""
        asked = self._asked
        assert asked is not None
        answer = self.codec.answer(more, asked)
        self.parts += 1
        if self.sent.prompt is not None:  # the prompt grew by the answer: text follows on
            joined = self._base + answer.text
        else:
            joined = join_parts(self._base, answer.text)
        if self.sent.prompt is None and starts_over(self._base, answer.text):
            self.stalled = True
            self.trace.add("output", "not continued", "the model started the answer over")
        elif len(joined) > len(self.text):
            self.text, self.reason = joined, answer.finish_reason
            self._cut_loop()
        else:  # the part added nothing: stop asking (the answer stays truncated)
            self.stalled = True
        price = self.cost
        if price is None:
            return None
        usd: float | None = self.guarded(
            "output", self.trace, lambda: price(asked, self.model, answer)
        )
        return usd

    def finish(self, result: R) -> R:
        """The joined answer, or the cut one flagged truncated."""
        truncated = self.reason == "length"
        text = cut_back(self.text, self.control, self.count) if truncated else self.text
        if self.parts > 1:
            self.trace.add("output", "continued", f"{self.parts} parts joined")
        if truncated:
            self.trace.add("output", "truncated", f"cut by the cap after {self.parts} part(s)")
        note(self.trace, continued=self.parts - 1, truncated=truncated)
        changed = self.guarded(
            "output", self.trace, lambda: self.codec.with_text(result, text, self.reason)
        )
        return result if changed is None else changed


def with_text(codec: Any, result: Any, text: str, finish_reason: str | None = "stop") -> Any:
    """``result`` saying ``text`` (the codec's ``with_text``)."""
    return codec.with_text(result, text, finish_reason)


class OutputStage:
    """The stream monitor and the continuation of cut answers, for one pipeline.

    Args:
        planner: the pipeline's response-length slot; monitoring and continuing
            happen only when it is an :class:`~tokenomy.output.OutputControl`.
        spend: prices, counts and holds each continuation call against the budget.
        guard: the pipeline's never-fail boundary.
    """

    def __init__(self, planner: OutputPlanner | None, spend: SpendStage, guard: Guard) -> None:
        self.control = planner if isinstance(planner, OutputControl) else None
        self.spend = spend
        self.guard = guard

    def watch(self, sent: Sent, codec: Codec[R, C], trace: Trace) -> Watch | None:
        """A monitor for this stream, when there is an output control."""
        control = self.control
        if control is None:
            return None
        count = self.spend.counter(model_id(sent, sent.model)).count
        return self.guard(
            "output", trace, lambda: watch_for(control, codec, sent.max_tokens, count)
        )

    def replayed(
        self, served: R, request: Request, codec: Codec[R, C], trace: Trace
    ) -> Iterable[C]:
        """A cached answer as a stream, through the same monitor as a live one."""
        if self.control is None or not self.control.monitor_replays:
            return codec.replay(served)
        sent = Sent(request, request.messages, (), max_tokens=None, prompt=request.prompt)
        watch = self.watch(sent, codec, trace)
        if watch is None:
            return codec.replay(served)
        for chunk in codec.replay(served):
            if watch.monitor.feed(watch.text_of(chunk)) is not None:
                break
        if not watch.stopped:
            return codec.replay(served)
        watch.report(trace)
        kept = watch.monitor.result().kept
        trimmed = self.guard("output", trace, lambda: with_text(codec, served, kept))
        return codec.replay(codec.annotate(trimmed if trimmed is not None else served, trace))

    def continued(
        self,
        sent: Sent,
        model: str | None,
        result: R,
        call: Callable[[Sent], R],
        codec: Codec[R, C],
        trace: Trace,
    ) -> R:
        """An answer cut by its cap, continued (or cut back and flagged). Each
        continuation call reserves its upper-bound cost through the budget first, like
        the first call, and settles to its actual cost; a refused reservation ends the
        continuing (the answer is returned flagged truncated)."""
        parts = self._parts(sent, model, result, codec, trace)
        if parts is None:
            return result
        steps = self._steps(parts, model, trace)
        try:
            ask = next(steps)
            while True:
                try:
                    more = call(ask)
                except Exception as exc:  # a failed continuation: keep what there is
                    ask = steps.throw(exc)
                else:
                    ask = steps.send(more)
        except StopIteration:
            pass
        finally:
            steps.close()  # a cancelled call releases what its part held
        return parts.finish(result)

    async def acontinued(
        self,
        sent: Sent,
        model: str | None,
        result: R,
        call: Callable[[Sent], Awaitable[R]],
        codec: Codec[R, C],
        trace: Trace,
    ) -> R:
        """:meth:`continued` for a coroutine provider."""
        parts = self._parts(sent, model, result, codec, trace)
        if parts is None:
            return result
        steps = self._steps(parts, model, trace)
        try:
            ask = next(steps)
            while True:
                try:
                    more = await call(ask)
                except Exception as exc:
                    ask = steps.throw(exc)
                else:
                    ask = steps.send(more)
        except StopIteration:
            pass
        finally:
            steps.close()  # a cancelled call releases what its part held
        return parts.finish(result)

    def _steps(
        self, parts: Parts[R], model: str | None, trace: Trace
    ) -> Generator[Sent, Any, None]:
        """The continuation calls to make, each held against the budget: yields what to
        ask, is sent the answer (or thrown the provider's error, which ends it)."""
        while parts.more():
            ask = parts.ask()
            held = self.spend.hold_part(ask, model, trace)
            if held is REFUSED:
                return
            try:
                more = yield ask
            except Exception as exc:
                self.spend.release(held)
                self.guard.failed("output", exc, trace)
                return
            except BaseException:  # cancelled (closed): give the held part back
                self.spend.release(held)
                raise
            self.spend.settle_part(held, parts.add(more))

    def _parts(
        self, sent: Sent, model: str | None, result: R, codec: Codec[R, C], trace: Trace
    ) -> Parts[R] | None:
        """The parts of an answer the provider cut at its cap, or None (not cut, or no
        output control, or a codec that cannot replace a result's text)."""
        control = self.control
        if control is None or not hasattr(codec, "with_text"):
            return None
        first = self.guard("output", trace, lambda: codec.answer(result, sent))
        if first is None or first.finish_reason != "length":
            return None
        counter = self.spend.counter(model_id(sent, model))
        cost = None if self.spend.budget is None else self.spend.cost
        return Parts(
            control, sent, model, codec, trace, first.text, counter.count, self.guard, cost
        )
