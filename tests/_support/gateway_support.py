"""Helpers of the gateway's tests: a configuration, keys, openai clients."""

from __future__ import annotations

from typing import Any

import openai

from tokenomy.serve import hash_key

ACME, GLOBEX = "sk-acme-test-key", "sk-globex-test-key"
UPSTREAM_KEY = "upstream-secret-value"


def config_for(upstream_url: str, **overrides: Any) -> dict[str, Any]:
    """A configuration: two models on the fake upstream, a route, two tenants."""
    config: dict[str, Any] = {
        "models": {
            "gpt-4o-mini": {"base_url": upstream_url, "api_key_env": "UPSTREAM_KEY"},
            "gpt-4o": {"base_url": upstream_url, "api_key_env": "UPSTREAM_KEY"},
            "local": {
                "base_url": upstream_url,
                "model": "smollm2",
                "price": {"input": 0, "output": 0},
            },
        },
        "routes": {"auto": {"models": ["gpt-4o-mini", "gpt-4o"], "quality_target": 0.6}},
        "tenants": {
            "acme": {"key_sha256": [hash_key(ACME)]},
            "globex": {"key_sha256": [hash_key(GLOBEX)], "models": ["gpt-4o-mini", "auto"]},
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def client(url: str, key: str = ACME) -> Any:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0)


def aclient(url: str, key: str = ACME) -> Any:
    return openai.AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
