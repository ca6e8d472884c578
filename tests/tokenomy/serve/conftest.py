"""The gateway under test: uvicorn on 127.0.0.1 in a thread, in front of a fake
OpenAI-compatible upstream on loopback; the official ``openai`` client drives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("openai")

from fake_openai import FakeOpenAI, uvicorn_thread
from gateway_support import UPSTREAM_KEY, config_for

from tokenomy.serve import GatewayConfig, create_app


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def serve_gateway(upstream: FakeOpenAI) -> Iterator[Callable[..., str]]:
    """``serve_gateway(**overrides)`` -> the base URL of a gateway with that configuration."""
    with ExitStack() as stack:

        def start(redis: Any = None, **overrides: Any) -> str:
            config = GatewayConfig.from_mapping(config_for(upstream.url, **overrides))
            app = create_app(config, environ={"UPSTREAM_KEY": UPSTREAM_KEY}, redis=redis)
            return stack.enter_context(uvicorn_thread(app))

        yield start


@pytest.fixture
def gateway(serve_gateway: Callable[..., str]) -> str:
    return serve_gateway()
