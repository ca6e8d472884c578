"""The gateway's provider callable: how one request reaches its upstream.

The pipeline chooses what to send (messages, model, answer cap); this sends it, and
on the way applies the gateway's own stages, each named in the call's trace: the
prefix layout (stable parts first, for the provider's prompt cache), grouping of
similar questions into one call, the Batch API for deferrable requests, and
de-duplication of identical upstream calls across replicas.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tokenomy.errors import UpstreamError
from tokenomy.pipeline import Sent
from tokenomy.serve.codec import chat_chunks, completion_chunks, merge_chat, merge_completion
from tokenomy.serve.dedup import dedup_key
from tokenomy.serve.layout import lay_out
from tokenomy.serve.responses import merge_response, response_events
from tokenomy.serve.translate import Options, key_body, outgoing

if TYPE_CHECKING:
    from tokenomy.serve.codec import CallState
    from tokenomy.serve.gateway import Gateway
    from tokenomy.serve.upstream import Upstream

__all__ = ["UpstreamCall"]

Json = dict[str, Any]

_PATHS = {"chat": "/chat/completions", "completion": "/completions", "responses": "/responses"}
_STREAMS: dict[str, tuple[Callable[[Sequence[Json]], Json], Callable[[Json], Iterator[Json]]]] = {
    "chat": (merge_chat, chat_chunks),
    "completion": (merge_completion, completion_chunks),
    "responses": (merge_response, response_events),
}
"""How each kind's stream adds up to its result, and a result replays as a stream."""


class UpstreamCall:
    """The provider side of one chat or completion request.

    Args:
        gateway: the gateway (upstreams, de-duplication, batching, grouping).
        kind: ``"chat"``, ``"completion"`` or ``"responses"``.
        body: the client's request body.
        model: the model the client named (a route or an upstream model).
        scope: the tenant (and user) scope: nothing is shared across scopes.
        options: the request's ``tokenomy`` options.
        state: the request's call state (the stream's trace is noted there).

    :meth:`call` is the pipeline's ``call``, :meth:`start` its ``start``;
    :attr:`errors` holds the upstreams' own errors, to relay one after fallback.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        kind: str,
        body: Json,
        model: str,
        scope: str,
        options: Options,
        state: CallState,
    ) -> None:
        self.g = gateway
        self.kind = kind
        self.body = body
        self.model = model
        self.scope = scope
        self.state = state
        self.path = _PATHS[kind]
        self.errors: list[UpstreamError] = []
        self.dedup = gateway.dedup if options.cache else None
        self.batch = gateway.batch if options.deferrable else None
        self.grouping = gateway.grouping if kind == "chat" and self.batch is None else None
        self.layout = kind == "chat" and gateway.config.prefix_layout

    def target(self, sent: Sent) -> Upstream:
        """The upstream of the model the pipeline chose (or the client's)."""
        return self.g.upstreams[sent.model or self.model]

    async def call(self, sent: Sent) -> Json:
        """One upstream answer for what the pipeline chose to send."""
        up = self.target(sent)
        out = self._laid_out(sent, outgoing(self.body, sent, up.model, stream=False, usage=False))
        try:
            if self.dedup is None:
                return await self._send(sent, up, out)
            # a deferred call waits for a batch job: only deferrable requests share it
            key = dedup_key(self.scope, up.name, self.path, key_body(out), self.batch is not None)
            answer, how = await self.dedup.call(key, lambda: self._send(sent, up, out))
        except UpstreamError as exc:
            self.errors.append(exc)
            raise
        if how is not None:
            self._shared(sent, how)
        return answer

    async def start(self, sent: Sent) -> AsyncIterator[Json]:
        """An upstream stream for what the pipeline chose to send."""
        up = self.target(sent)
        self.state.trace = sent.trace
        usage = up.config.stream_usage and self.kind != "responses"  # its events carry usage
        out = self._laid_out(sent, outgoing(self.body, sent, up.model, stream=True, usage=usage))
        chunks: AsyncGenerator[Json, None]
        if self.dedup is None:
            chunks = up.stream(self.path, out)
        else:
            merge, replay = _STREAMS[self.kind]
            chunks = self.dedup.stream(
                dedup_key(self.scope, up.name, self.path, key_body(out)),
                lambda: up.stream(self.path, out),
                merge=merge,
                replay=replay,
                shared=lambda how: self._shared(sent, how),
            )
        try:
            async for chunk in chunks:
                yield chunk
        except UpstreamError as exc:
            self.errors.append(exc)
            raise
        finally:
            await chunks.aclose()

    async def _send(self, sent: Sent, up: Upstream, out: Json) -> Json:
        """Grouped with similar questions, deferred to a batch job, or sent at once."""
        grouping = self.grouping
        question = grouping.eligible(out) if grouping is not None else None
        if grouping is not None and question is not None:
            answer, note = await grouping.submit(up, self.path, question, self.scope)
            if note and sent.trace is not None:
                sent.trace.add("group", "shared" if answer else "alone", note)
            if answer is not None:
                return answer
        if self.batch is None:
            return await up.post(self.path, out)
        if sent.trace is not None:
            sent.trace.add("batch", "deferred", "sent through the upstream's Batch API")
        answer = await self.batch.submit(up, self.path, out)
        self.state.price_factor = self.g.config.batch.price_factor  # billed at the discount
        return answer

    def _laid_out(self, sent: Sent, out: Json) -> Json:
        if not self.layout:
            return out
        out, notes = lay_out(out)
        if notes and sent.trace is not None:
            sent.trace.add("layout", "reordered", "; ".join(notes))
        return out

    def _shared(self, sent: Sent, how: str) -> None:
        self.state.shared = how
        if sent.trace is not None:
            what = "in flight" if how == "in_flight" else "answered within the window"
            sent.trace.add("dedup", "shared", f"an identical upstream call {what}")
