"""The configuration file: validated at once, every mistake named with what to do;
secrets only from the environment; keys only as hashes."""

from __future__ import annotations

import pytest

from tokenomy.errors import ConfigError
from tokenomy.serve import Gateway, GatewayConfig, hash_key
from tokenomy.serve.tenants import KeyRing, RateLimiter, Tenant

MODEL = {"base_url": "http://127.0.0.1:9/v1"}


def config(**data):
    return GatewayConfig.from_mapping({"models": {"gpt-4o-mini": MODEL}, "auth": "none", **data})


def test_a_yaml_file_is_read_and_validated(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "models:\n"
        "  gpt-4o-mini:\n"
        "    base_url: https://api.openai.com/v1\n"
        "    api_key_env: OPENAI_API_KEY\n"
        "tenants:\n"
        f"  acme:\n    key_sha256: [{hash_key('sk-acme')}]\n    budget_usd: 5\n"
        "cache:\n  mode: exact\n  ttl_seconds: 600\n"
        "dedup:\n  window_seconds: 30\n"
    )
    loaded = GatewayConfig.from_file(path)
    assert loaded.tenants["acme"].budget_usd == 5 and loaded.dedup.window_seconds == 30
    assert loaded.cache.ttl_seconds == 600


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"models": {}}, "models"),
        ({"models": {"m": {"base_url": "ftp://x"}}}, "http(s) URL"),
        ({"models": {"m": {"base_url": "https://user:pw@host/v1"}}}, "without credentials"),
        ({"models": {"m": {**MODEL, "api_key_env": "sk-123 456"}}}, "names an environment"),
        ({"models": {"m": MODEL}, "routes": {"m": {"models": ["m"]}}}, "differ from model"),
        ({"models": {"m": MODEL}, "routes": {"r": {"models": ["x"]}}}, "not under 'models'"),
        ({"models": {"m": MODEL}}, "no tenant is configured"),
        ({"models": {"m": MODEL}, "tenants": {"t": {"key_sha256": ["sk-live-key"]}}}, "hex"),
        (
            {
                "models": {"m": MODEL},
                "tenants": {"t": {"key_sha256": [hash_key("k")], "models": ["gpt-9"]}},
            },
            "neither models nor routes",
        ),
        (
            {
                "models": {"m": MODEL},
                "tenants": {
                    "a": {"key_sha256": [hash_key("k")]},
                    "b": {"key_sha256": [hash_key("k")]},
                },
            },
            "share an API key",
        ),
        ({"models": {"m": MODEL}, "auth": "none", "cache": {"mode": "fuzzy"}}, "cache.mode"),
        ({"models": {"m": MODEL}, "auth": "none", "typo": 1}, "typo"),
    ],
)
def test_a_mistake_is_named_with_its_place(data, message):
    with pytest.raises(ConfigError, match="valid gateway configuration") as err:
        GatewayConfig.from_mapping(data)
    assert message in str(err.value)


def test_a_missing_or_broken_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="--config PATH"):
        GatewayConfig.from_file(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("models: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        GatewayConfig.from_file(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        GatewayConfig.from_file(tmp_path / "list.yaml")


def test_secrets_come_from_the_environment_and_are_never_shown():
    c = config(models={"gpt-4o-mini": {**MODEL, "api_key_env": "UP_KEY"}}, redis_url_env="R")
    with pytest.raises(ConfigError, match="export UP_KEY="):
        c.secrets({})
    secrets = c.secrets({"UP_KEY": "sk-upstream", "R": "redis://:pw@127.0.0.1:6379"})
    assert secrets.upstream_keys["gpt-4o-mini"].get_secret_value() == "sk-upstream"
    assert "sk-upstream" not in repr(secrets) and "pw" not in repr(secrets)


def test_keys_are_looked_up_by_hash_and_auth_none_serves_anyone():
    ring = KeyRing(
        GatewayConfig.from_mapping(
            {"models": {"m": MODEL}, "tenants": {"acme": {"key_sha256": [hash_key("sk-a")]}}}
        )
    )
    assert ring.tenant("sk-a").name == "acme"
    assert ring.tenant("sk-b") is None and ring.tenant(None) is None and ring.tenant("") is None
    assert KeyRing(config()).tenant(None).name == "anonymous"


def test_a_routed_or_budgeted_model_needs_a_price():
    routed = {
        "models": {"mystery": MODEL, "gpt-4o-mini": MODEL},
        "routes": {"auto": {"models": ["mystery", "gpt-4o-mini"]}},
    }
    with pytest.raises(ConfigError, match="route 'auto' chooses by price"):
        Gateway(config(**routed), environ={})
    budgeted = {
        "models": {"mystery": MODEL},
        "tenants": {"t": {"key_sha256": [hash_key("k")], "budget_usd": 1}},
    }
    with pytest.raises(ConfigError, match="no price to reserve"):
        Gateway(GatewayConfig.from_mapping(budgeted), environ={})
    priced = {
        "models": {"mystery": {**MODEL, "price": {"input": 1, "output": 2}}},
        "tenants": {"t": {"key_sha256": [hash_key("k")], "budget_usd": 1}},
    }
    assert Gateway(GatewayConfig.from_mapping(priced), environ={}).prices.get("mystery")


async def test_the_local_rate_limit_is_a_token_bucket_per_tenant():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    tenant = Tenant(
        "t",
        GatewayConfig.from_mapping(
            {
                "models": {"m": MODEL},
                "tenants": {"t": {"key_sha256": [hash_key("k")], "rate_limit_rpm": 60}},
            }
        ).tenants["t"],
    )
    assert [await limiter.admit(tenant) for _ in range(60)] == [None] * 60
    wait = await limiter.admit(tenant)
    assert wait is not None and 0 < wait <= 1.0
    now[0] += 1.0
    assert await limiter.admit(tenant) is None


@pytest.mark.redis
async def test_the_shared_rate_limit_holds_across_replicas(redis_url):
    import redis.asyncio as aioredis

    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    limiters = [RateLimiter(redis=c, clock=lambda: 120.0) for c in clients]
    tenant = Tenant(
        "t",
        GatewayConfig.from_mapping(
            {
                "models": {"m": MODEL},
                "tenants": {"t": {"key_sha256": [hash_key("k")], "rate_limit_rpm": 10}},
            }
        ).tenants["t"],
    )
    admitted = [await limiters[i % 2].admit(tenant) is None for i in range(14)]
    assert admitted.count(True) == 10
    for c in clients:
        await c.aclose()


def test_the_example_configuration_is_valid_and_its_demo_key_matches():
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "gateway.yaml"
    example = GatewayConfig.from_file(path)
    assert KeyRing(example).tenant("tokenomy-demo-key").name == "demo"
    assert Gateway(example, environ={"OPENAI_API_KEY": "sk-test"}).routers["auto"]
