"""Two gateway processes sharing a real Redis act as one: identical requests across
both make one upstream call (streams too), an answer cached by one is served by the
other, a killed replica loses nothing for clients that retry on the other, and a
killed Redis leaves both serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAI
from gateway_support import UPSTREAM_KEY, aclient, client, config_for, gateway_processes

from tokenomy.serve import TRACE_HEADER

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def replicas(redis_stack, tmp_path_factory) -> Iterator[tuple[FakeOpenAI, list[str], list[Any]]]:
    """Two replicas for the whole module (the tests that kill something come last)."""
    redis_stack.start()
    with ExitStack() as stack:
        up = stack.enter_context(FakeOpenAI(latency_s=0.5))
        config = config_for(up.url, redis_url_env="REDIS_URL")
        env = {"UPSTREAM_KEY": UPSTREAM_KEY, "REDIS_URL": redis_stack.url}
        tmp = tmp_path_factory.mktemp("replicas")
        started = stack.enter_context(gateway_processes(config, tmp, env))
        yield up, [url for url, _ in started], [proc for _, proc in started]


@pytest.fixture
def fresh(replicas):
    """Each test counts the upstream calls it causes."""
    up = replicas[0]
    before = up.total
    yield lambda: up.total - before


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_fifty_identical_requests_across_two_replicas_make_one_upstream_call(replicas, fresh):
    _, urls, _ = replicas

    async def burst() -> tuple[list[str], list[str]]:
        apis = [aclient(u) for u in urls]

        async def one(i: int) -> str:
            r = await apis[i % 2].chat.completions.create(
                model="gpt-4o-mini", messages=ask("What is the tallest mountain?")
            )
            return r.choices[0].message.content

        async def streamed(i: int) -> str:
            parts = []
            async for c in await apis[i % 2].chat.completions.create(
                model="gpt-4o-mini", messages=ask("Stream the tallest river"), stream=True
            ):
                parts.append((c.choices[0].delta.content or "") if c.choices else "")
            return "".join(parts)

        plain = await asyncio.gather(*(one(i) for i in range(50)))
        streams = await asyncio.gather(*(streamed(i) for i in range(20)))
        return plain, streams

    plain, streams = asyncio.run(burst())
    assert set(plain) == {"Echo: What is the tallest mountain?"} and len(plain) == 50
    assert set(streams) == {"Echo: Stream the tallest river"} and len(streams) == 20
    assert fresh() == 2  # one call for the 50, one for the 20 streams
    metrics = [httpx.get(u.removesuffix("/v1") + "/metrics").text for u in urls]
    assert all("tokenomy_upstream_calls_total" in m for m in metrics)


def test_an_answer_cached_by_one_replica_is_served_by_the_other(replicas, fresh):
    _, urls, _ = replicas
    client(urls[0]).chat.completions.create(model="gpt-4o-mini", messages=ask("q-shared-cache"))
    raw = client(urls[1]).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask("q-shared-cache")
    )
    stages = json.loads(raw.headers[TRACE_HEADER])["stages"]
    assert stages[0] == {
        "stage": "cache",
        "outcome": "hit",
        "detail": "exact from redis",
        "saved_tokens": stages[0]["saved_tokens"],
        "saved_usd": stages[0]["saved_usd"],
    }
    assert fresh() == 1


def test_with_redis_killed_both_replicas_keep_serving(replicas, redis_stack, fresh):
    _, urls, _ = replicas
    redis_stack.kill()
    try:
        for i, url in enumerate(urls):
            answer = client(url).chat.completions.create(
                model="gpt-4o-mini", messages=ask(f"down {i}")
            )
            assert answer.choices[0].message.content == f"Echo: down {i}"
        health = httpx.get(urls[0].removesuffix("/v1") + "/healthz").json()
        assert health["redis"] == "unreachable"
        assert fresh() == 2  # the cache misses went upstream
    finally:
        redis_stack.start()


def test_a_killed_replica_loses_nothing_for_clients_that_retry_on_the_other(replicas):
    _, urls, procs = replicas

    async def run() -> list[str]:
        apis = [aclient(u) for u in urls]

        async def one(i: int) -> str:
            for api in (apis[0], apis[1]):  # the load balancer's retry on the next replica
                try:
                    r = await api.chat.completions.create(
                        model="gpt-4o-mini", messages=ask(f"question {i}")
                    )
                    return r.choices[0].message.content
                except openai_errors() as exc:
                    last = exc
            raise last

        async def kill() -> None:
            await asyncio.sleep(0.2)  # requests are in flight upstream
            procs[0].kill()

        *answers, _ = await asyncio.gather(*(one(i) for i in range(20)), kill())
        return answers

    answers = asyncio.run(run())
    assert answers == [f"Echo: question {i}" for i in range(20)]


def openai_errors() -> tuple[type[Exception], ...]:
    import openai

    return (openai.APIConnectionError, openai.InternalServerError)
