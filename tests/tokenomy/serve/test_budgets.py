"""Tenants' budgets with Redis are one limit for every replica (``RedisBudget``): two
gateways sharing the test Redis refuse together once the tenant's spend reaches it;
with Redis killed each keeps serving within its fallback share and then refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fake_openai import FakeOpenAI, uvicorn_thread
from gateway_support import ACME, UPSTREAM_KEY, aclient, client, config_for

from tokenomy.budget import RedisBudget, SpendBudget
from tokenomy.serve import GatewayConfig, create_app, hash_key

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.redis

LIMIT_USD = 0.5
CALL_USD = 0.03  # "Echo: qN": 1 prompt word + 2 answer words at $0.01 a token


@pytest.fixture
def two_replicas(redis_url: str) -> Iterator[Callable[..., tuple[FakeOpenAI, list[str]]]]:
    """``two_replicas(**overrides)`` -> the upstream and two in-process gateways on
    one Redis, whose tenant ``acme`` has a $0.50 budget on a $0.01-a-token model."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> tuple[FakeOpenAI, list[str]]:
            up = stack.enter_context(FakeOpenAI())
            config = config_for(
                up.url,
                redis_url_env="REDIS_URL",
                cache={"mode": "none"},
                models={
                    "pricey": {
                        "base_url": up.url,
                        "api_key_env": "UPSTREAM_KEY",
                        "price": {"input": 10_000, "output": 10_000},
                    }
                },
                tenants={"acme": {"key_sha256": [hash_key(ACME)], "budget_usd": LIMIT_USD}},
                **overrides,
            )
            environ = {"UPSTREAM_KEY": UPSTREAM_KEY, "REDIS_URL": redis_url}
            urls = [
                stack.enter_context(
                    uvicorn_thread(create_app(GatewayConfig.from_mapping(config), environ=environ))
                )
                for _ in range(2)
            ]
            return up, urls

        yield start


def ask(url: str, text: str) -> str:
    r = client(url).chat.completions.create(
        model="pricey", messages=[{"role": "user", "content": text}], max_tokens=3
    )
    return str(r.choices[0].message.content)


def test_two_replicas_hold_one_tenant_limit(two_replicas):
    up, urls = two_replicas()
    answered = 0
    refused: set[int] = set()
    for i in range(60):  # alternate replicas until both refuse
        replica = i % 2
        try:
            assert ask(urls[replica], f"q{i}") == f"Echo: q{i}"
            answered += 1
        except openai.RateLimitError as exc:
            assert exc.code == "budget_exceeded"
            refused.add(replica)
            if refused == {0, 1}:
                break
    assert refused == {0, 1}
    # per-process budgets would have let each replica spend the whole limit (~2x calls)
    assert 1 <= answered <= LIMIT_USD / CALL_USD
    assert up.total == answered


def test_concurrent_calls_on_two_replicas_never_pass_the_limit(two_replicas):
    up, urls = two_replicas()

    async def burst() -> list[str]:
        apis = [aclient(u) for u in urls]

        async def one(i: int) -> str:
            try:
                r = await apis[i % 2].chat.completions.create(
                    model="pricey", messages=[{"role": "user", "content": f"c{i}"}], max_tokens=3
                )
                return str(r.choices[0].message.content)
            except openai.RateLimitError:
                return "refused"

        return await asyncio.gather(*(one(i) for i in range(40)))

    answers = asyncio.run(burst())
    answered = sum(a != "refused" for a in answers)
    assert answers.count("refused") > 0 and answered * CALL_USD <= LIMIT_USD + 1e-9
    assert up.total == answered


def test_the_gateway_builds_shared_budgets_only_with_redis(redis_url):
    config = config_for(
        "http://127.0.0.1:9/v1",
        tenants={"acme": {"key_sha256": [hash_key(ACME)], "budget_usd": 1}},
    )
    shared = create_app(
        GatewayConfig.from_mapping({**config, "redis_url_env": "REDIS_URL"}),
        environ={"UPSTREAM_KEY": UPSTREAM_KEY, "REDIS_URL": redis_url},
    )
    local = create_app(GatewayConfig.from_mapping(config), environ={"UPSTREAM_KEY": UPSTREAM_KEY})
    assert isinstance(shared.state.gateway.keys.tenants["acme"].budget, RedisBudget)
    assert isinstance(local.state.gateway.keys.tenants["acme"].budget, SpendBudget)


def test_with_redis_killed_a_replica_spends_its_fallback_share_then_refuses(
    two_replicas, redis_stack
):
    _, urls = two_replicas(budget_fallback_share=0.5)
    assert ask(urls[0], "before") == "Echo: before"  # Redis up: shared enforcement
    redis_stack.kill()
    try:
        answered = 0
        with pytest.raises(openai.RateLimitError) as err:
            for i in range(30):
                assert ask(urls[1], f"down{i}") == f"Echo: down{i}"
                answered += 1
        assert err.value.code == "budget_exceeded"
        # its own share: at most half the limit, while Redis is unreachable
        assert answered >= 1 and answered * CALL_USD <= LIMIT_USD * 0.5 + 1e-9
    finally:
        redis_stack.start()
