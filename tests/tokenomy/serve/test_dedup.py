"""Identical upstream calls share one call: in one process, across replicas through a
real Redis, streams included; failures hand the call over; Redis down turns sharing
across replicas off without failing a call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tokenomy.errors import UpstreamError
from tokenomy.serve.codec import chat_chunks, merge_chat
from tokenomy.serve.dedup import Deduplicator


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Upstream:
    """Counts calls; answers after ``delay_s``; streams ``words`` chunk by chunk."""

    def __init__(self, *, delay_s: float = 0.05, fail: list[int] | None = None) -> None:
        self.calls = 0
        self.delay_s = delay_s
        self.fail = list(fail or [])
        self.closed = 0

    def _check(self) -> None:
        if self.fail:
            status = self.fail.pop(0)
            raise UpstreamError(status, {"error": {"message": f"failed {status}"}}, "m")

    async def fetch(self) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        self._check()
        return answer("one two three")

    async def start(self) -> AsyncIterator[dict[str, Any]]:
        self.calls += 1
        try:
            await asyncio.sleep(self.delay_s)
            self._check()
            for chunk in chat_chunks(answer("one two three four five six seven eight nine")):
                yield chunk
                await asyncio.sleep(self.delay_s / 10)
        finally:
            self.closed += 1


def answer(text: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def text_of(chunks: list[dict[str, Any]]) -> str:
    return merge_chat(chunks)["choices"][0]["message"]["content"]


async def stream_text(dedup: Deduplicator, up: Upstream, key: str = "k") -> str:
    chunks = [c async for c in dedup.stream(key, up.start, merge=merge_chat, replay=chat_chunks)]
    return text_of(chunks)


# -- one process ---------------------------------------------------------------------------


async def test_concurrent_identical_calls_share_one_call():
    dedup, up = Deduplicator(), Upstream()
    results = await asyncio.gather(*(dedup.call("k", up.fetch) for _ in range(20)))
    assert up.calls == 1
    assert [how for _, how in results].count(None) == 1
    assert {r["choices"][0]["message"]["content"] for r, _ in results} == {"one two three"}
    assert dedup.stats.calls == 1 and dedup.stats.in_flight == 19
    assert dedup.in_flight == 0


async def test_streams_share_one_call_and_a_late_joiner_gets_every_chunk():
    dedup, up = Deduplicator(), Upstream()
    first = asyncio.create_task(stream_text(dedup, up))
    await asyncio.sleep(0.08)  # mid-stream
    late = await stream_text(dedup, up)
    assert late == await first == "one two three four five six seven eight nine"
    assert up.calls == 1


async def test_a_whole_answer_replays_to_a_stream_and_a_stream_merges_for_a_call():
    dedup, up = Deduplicator(), Upstream()
    call = asyncio.create_task(dedup.call("k", up.fetch))
    await asyncio.sleep(0.01)
    assert await stream_text(dedup, up) == "one two three"
    await call
    dedup2, up2 = Deduplicator(), Upstream()
    streaming = asyncio.create_task(stream_text(dedup2, up2))
    await asyncio.sleep(0.01)
    merged, how = await dedup2.call("k", up2.fetch)
    assert how == "in_flight" and merged["choices"][0]["message"]["content"] == await streaming
    assert up.calls == up2.calls == 1


async def test_the_window_serves_a_repeat_until_it_expires():
    clock = Clock()
    dedup, up = Deduplicator(window_s=60, clock=clock), Upstream()
    await dedup.call("k", up.fetch)
    _, how = await dedup.call("k", up.fetch)
    assert how == "window" and up.calls == 1
    assert await stream_text(dedup, up) == "one two three"  # replayed as a stream
    clock.t += 61
    _, how = await dedup.call("k", up.fetch)
    assert how is None and up.calls == 2
    assert dedup.stats.window == 2


async def test_no_window_shares_only_calls_in_flight():
    dedup, up = Deduplicator(window_s=0), Upstream()
    await dedup.call("k", up.fetch)
    await dedup.call("k", up.fetch)
    assert up.calls == 2


async def test_a_failure_reaches_every_request_of_the_flight_and_the_next_call_retries():
    dedup, up = Deduplicator(), Upstream(fail=[500])
    results = await asyncio.gather(
        *(dedup.call("k", up.fetch) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, UpstreamError) and r.status == 500 for r in results)
    _answer, how = await dedup.call("k", up.fetch)
    assert how is None and up.calls == 2


async def test_when_every_request_leaves_the_upstream_stream_is_closed():
    dedup, up = Deduplicator(), Upstream(delay_s=0.2)
    gen = dedup.stream("k", up.start, merge=merge_chat, replay=chat_chunks)
    task = asyncio.create_task(gen.__anext__())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await gen.aclose()
    await asyncio.sleep(0.05)
    assert up.closed == 1 and dedup.in_flight == 0


async def test_keys_keep_calls_apart():
    dedup, up = Deduplicator(), Upstream()
    await asyncio.gather(dedup.call("a", up.fetch), dedup.call("b", up.fetch))
    assert up.calls == 2


# -- across replicas (a real Redis) -----------------------------------------------------------


def replicas(redis_url: str, n: int = 2, **options: Any) -> list[Deduplicator]:
    """Deduplicators that share nothing but Redis, as separate gateway processes do."""
    import redis.asyncio as aioredis

    return [
        Deduplicator(redis=aioredis.Redis.from_url(redis_url, socket_timeout=2.0), **options)
        for _ in range(n)
    ]


async def close(dedups: list[Deduplicator]) -> None:
    for d in dedups:
        await d.aclose()
        assert d.redis is not None
        await d.redis.aclose()


@pytest.mark.redis
async def test_calls_on_two_replicas_share_one_upstream_call(redis_url):
    a, b = replicas(redis_url)
    up = Upstream(delay_s=0.2)
    try:
        results = await asyncio.gather(*(d.call("k", up.fetch) for d in (a, b) for _ in range(10)))
        assert up.calls == 1
        assert {r["choices"][0]["message"]["content"] for r, _ in results} == {"one two three"}
        for _ in range(200):  # the finished flight leaves b's table (a scheduled cleanup)
            if not b.in_flight:
                break
            await asyncio.sleep(0.01)
        _, how = await b.call("k", up.fetch)  # answered within the window, on either replica
        assert how == "window" and up.calls == 1
    finally:
        await close([a, b])


@pytest.mark.redis
async def test_streams_on_two_replicas_share_one_call_chunk_by_chunk(redis_url):
    a, b = replicas(redis_url, window_s=0)
    up = Upstream(delay_s=0.1)
    try:
        leader = asyncio.create_task(stream_text(a, up))
        await asyncio.sleep(0.02)
        seen: list[dict[str, Any]] = []
        async for chunk in b.stream("k", up.start, merge=merge_chat, replay=chat_chunks):
            seen.append(chunk)
        assert text_of(seen) == await leader == "one two three four five six seven eight nine"
        assert len(seen) > 3  # relayed as chunks, not one replayed answer
        assert up.calls == 1
    finally:
        await close([a, b])


@pytest.mark.redis
async def test_a_failed_claimant_hands_the_call_to_the_other_replica(redis_url):
    a, b = replicas(redis_url)
    up = Upstream(delay_s=0.1, fail=[503])
    try:
        first = asyncio.create_task(a.call("k", up.fetch))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(b.call("k", up.fetch))
        with pytest.raises(UpstreamError):
            await first
        _answer, how = await second
        assert how is None and up.calls == 2  # b called after a gave up
    finally:
        await close([a, b])


@pytest.mark.redis
async def test_a_refusal_of_the_request_itself_is_shared(redis_url):
    a, b = replicas(redis_url)
    up = Upstream(delay_s=0.1, fail=[400, 400])
    try:
        results = await asyncio.gather(
            *(d.call("k", up.fetch) for d in (a, b) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, UpstreamError) and r.status == 400 for r in results)
        assert up.calls == 1
    finally:
        await close([a, b])


@pytest.mark.redis
async def test_a_killed_replicas_claim_lapses_and_another_takes_the_call(redis_url):
    import redis.asyncio as aioredis

    (b,) = replicas(redis_url, n=1, lease_s=0.5)
    raw = aioredis.Redis.from_url(redis_url)
    # a replica that claimed the call and died: its claim is never renewed
    await raw.set(f"{b.prefix}k:lock", "dead-replica", px=500)
    up = Upstream(delay_s=0.01)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        _answer, how = await b.call("k", up.fetch)
        assert how is None and up.calls == 1
        assert loop.time() - started < 3.0  # within the lease and one blocking read
    finally:
        await raw.aclose()
        await close([b])


@pytest.mark.redis
async def test_a_long_call_keeps_its_claim_alive_with_a_heartbeat(redis_url):
    a, b = replicas(redis_url, lease_s=0.3)
    up = Upstream(delay_s=1.0)
    try:
        results = await asyncio.gather(a.call("k", up.fetch), b.call("k", up.fetch))
        assert up.calls == 1 and sorted(str(how) for _, how in results) == ["None", "in_flight"]
    finally:
        await close([a, b])


async def test_redis_down_turns_sharing_across_replicas_off_and_calls_go_on(caplog):
    import redis.asyncio as aioredis

    dead = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    dedup, up = Deduplicator(redis=dead), Upstream()
    results = await asyncio.gather(*(dedup.call("k", up.fetch) for _ in range(5)))
    assert up.calls == 1 and len(results) == 5  # still shared within the process
    assert dedup.stats.redis_errors == 1
    assert "de-duplication across replicas is off" in caplog.text
    await dedup.aclose()
    await dead.aclose()
