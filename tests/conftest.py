"""Test-wide setup: offline model hubs, no LangSmith, sockets limited to loopback
(pytest-socket, configured in pyproject.toml)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("LANGSMITH_TRACING", None)
os.environ.pop("LANGCHAIN_TRACING_V2", None)
os.environ.pop("TIKTOKEN_CACHE_DIR", None)  # tokenomy must not need it

sys.path.insert(0, str(Path(__file__).parent / "_support"))

REPO = Path(__file__).resolve().parents[1]

import pytest  # noqa: E402
from cassettes import BASE_URL, RECORDING, openai_compatible_server  # noqa: E402


@pytest.fixture(scope="session")
def openai_base_url():
    """The OpenAI-compatible server's URL; a real SmolLM2 server only when recording."""
    if RECORDING:
        with openai_compatible_server() as url:
            yield url
    else:
        yield BASE_URL


@pytest.fixture(scope="session")
def redis_stack():
    """A real Redis Stack server (RediSearch + JSON) on loopback, stopped by PID.

    Skipped, with the reason, only when the server cannot start on this machine;
    under CI (``CI`` set) that is a failure instead.
    """
    from redis_server import RedisStackServer, RedisStackUnavailableError

    try:
        server = RedisStackServer().start()
    except RedisStackUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis Stack must run under CI: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_stack):
    """The server's URL, running (restarted if a test killed it) and empty."""
    import redis

    redis_stack.start()
    client = redis.Redis.from_url(redis_stack.url)
    client.flushall()
    client.close()
    return redis_stack.url
