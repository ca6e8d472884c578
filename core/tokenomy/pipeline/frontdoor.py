"""One framework call through the pipeline, on whichever path the framework took.

A framework's model has four call methods (LangChain's ``_generate``,
``_agenerate``, ``_stream``, ``_astream``; LlamaIndex's ``chat``, ``achat``,
``stream_chat``, ``astream_chat``). A front door says once which method each path
calls (:class:`Methods`) and, per call, what the model is sent for what the
pipeline chose (an ``outbound`` function of :class:`~tokenomy.pipeline.Sent`); a
:class:`FrontDoor` then runs the call on its path, so each framework method is one
line. A model that cannot stream answers a streaming caller with its whole answer,
replayed as chunks by the pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from tokenomy.pipeline.calling import Finished
from tokenomy.pipeline.pipeline import Codec, Pipeline
from tokenomy.pipeline.request import Request, Sent

__all__ = ["FrontDoor", "Methods", "Outbound", "answer_cap"]

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")


class Outbound(NamedTuple):
    """What a framework model is called with for one :class:`~tokenomy.pipeline.Sent`."""

    model: Any
    """The framework model that answers (the routed one, or the front door's own)."""
    args: tuple[Any, ...]
    """Positional arguments of its call method (the caller's messages as sent, ...)."""
    kwargs: Mapping[str, Any]
    """Keyword arguments (the caller's parameters, with the planned answer cap)."""


@dataclass(frozen=True)
class Methods(Generic[T, R, C]):
    """Which method of a framework model ``T`` each call path calls.

    Each field takes the model and gives its bound method. ``stream`` and ``astream``
    give None for a model that cannot stream: the streaming caller then gets the
    answer of ``call`` (``acall``) replayed as chunks through the codec. See
    :class:`FrontDoor` for an example.
    """

    call: Callable[[T], Callable[..., R]]
    acall: Callable[[T], Callable[..., Awaitable[R]]]
    stream: Callable[[T], Callable[..., Iterator[C]] | None]
    astream: Callable[[T], Callable[..., AsyncIterator[C] | Awaitable[AsyncIterator[C]]] | None]


class FrontDoor(Generic[T, R, C]):
    """One framework call: its request, its codec, and what it sends, on any path.

    Args:
        pipeline: the front door's pipeline.
        request: the call as the pipeline's neutral request.
        codec: the framework's result and chunk types.
        methods: which method of the model each path calls.
        outbound: for what the pipeline chose to send, the model to call and its
            arguments (the caller's own message objects, parameters with the
            planned answer cap).

    Example:
        >>> from tokenomy.pipeline import Pipeline, Request, TextCodec
        >>> class Echo:
        ...     def say(self, text): return text.upper()
        ...     async def asay(self, text): return text.upper()
        >>> echo = Methods(call=lambda m: m.say, acall=lambda m: m.asay,
        ...                stream=lambda m: None, astream=lambda m: None)
        >>> door = FrontDoor(Pipeline(), Request(prompt="hi there"), TextCodec(), echo,
        ...                  lambda sent: Outbound(Echo(), (sent.prompt,), {}))
        >>> door.run(), list(door.stream())
        ('HI THERE', ['HI ', 'THERE'])
    """

    __slots__ = ("codec", "methods", "outbound", "pipeline", "request")

    def __init__(
        self,
        pipeline: Pipeline[R, C],
        request: Request,
        codec: Codec[R, C],
        methods: Methods[T, R, C],
        outbound: Callable[[Sent], Outbound],
    ) -> None:
        self.pipeline = pipeline
        self.request = request
        self.codec = codec
        self.methods = methods
        self.outbound = outbound

    def run(self) -> R:
        """The call, through :meth:`Pipeline.run <tokenomy.pipeline.Pipeline.run>`."""
        return self.pipeline.run(self.request, self._call, self.codec)

    async def arun(self) -> R:
        """The async call, through :meth:`Pipeline.arun <tokenomy.pipeline.Pipeline.arun>`."""
        return await self.pipeline.arun(self.request, self._acall, self.codec)

    def stream(self) -> Iterator[C]:
        """The streamed call (a generator: closing it reaches the pipeline)."""
        return self.pipeline.stream(self.request, self._start, self.codec)

    def astream(self) -> AsyncIterator[C]:
        """The async streamed call."""
        return self.pipeline.astream(self.request, self._astart, self.codec)

    # -- the provider callables ------------------------------------------------------------

    def _call(self, sent: Sent) -> R:
        model, args, kwargs = self.outbound(sent)
        return self.methods.call(model)(*args, **kwargs)

    def _acall(self, sent: Sent) -> Awaitable[R]:
        model, args, kwargs = self.outbound(sent)
        return self.methods.acall(model)(*args, **kwargs)

    def _start(self, sent: Sent) -> Iterator[C] | Finished[R]:
        model, args, kwargs = self.outbound(sent)
        method = self.methods.stream(model)
        if method is None:  # the model cannot stream: its answer, replayed
            return Finished(self.methods.call(model)(*args, **kwargs))
        return method(*args, **kwargs)

    def _astart(self, sent: Sent) -> AsyncIterator[C] | Awaitable[AsyncIterator[C] | Finished[R]]:
        model, args, kwargs = self.outbound(sent)
        method = self.methods.astream(model)
        if method is None:
            return _finished(self.methods.acall(model)(*args, **kwargs))
        return method(*args, **kwargs)


async def _finished(answer: Awaitable[R]) -> Finished[R]:
    return Finished(await answer)


def answer_cap(asked: Any, caps: Iterable[Any] = ()) -> int | None:
    """The answer cap of a request: the caller's ``max_tokens`` when it is a positive
    whole number (not a bool); else, when every model the call may go to has its own
    cap (``caps``), the largest of them (the most an answer can run to, whichever
    model answers); else None (the pipeline reserves its expected answer length and
    may plan a cap).

    Example:
        >>> answer_cap(64), answer_cap(None, [256, 512]), answer_cap(0, [256, None])
        (64, 512, None)
    """
    if _positive(asked):
        return int(asked)
    own = list(caps)
    known = [int(c) for c in own if _positive(c)]
    return max(known) if known and len(known) == len(own) else None


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
