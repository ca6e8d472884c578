"""Helpers of the gateway's tests: a configuration, keys, openai clients."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import yaml

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


@contextlib.contextmanager
def gateway_processes(
    config: dict[str, Any], tmp_path: Path, env: dict[str, str], n: int = 2
) -> Iterator[list[tuple[str, subprocess.Popen[str]]]]:
    """``n`` replicas: ``tokenomy serve`` processes (started at once) on free loopback
    ports; yields their ``/v1`` URLs and processes; stopped (SIGTERM, then SIGKILL)."""
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    root = Path(__file__).resolve().parents[2]
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(root / "core"), str(root / "integrations"), environ.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-m", "tokenomy.cli", "serve", "--config", str(path), "--port", "0"]
    procs = [
        subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environ
        )
        for _ in range(n)
    ]
    try:
        started = [(listening_url(proc), proc) for proc in procs]
        for url, _ in started:
            wait_ready(url)
        yield started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def listening_url(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> str:
    """The URL ``tokenomy serve`` says it listens on (its first line on stderr)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        match = re.search(r"listening on (http://\S+/v1)", line)
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep it drained
            return match.group(1)
    raise RuntimeError(f"the gateway did not start (exit {proc.poll()})")


def wait_ready(url: str, timeout_s: float = 30.0) -> None:
    """Wait until the gateway at ``url`` answers ``/healthz``."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url.removesuffix("/v1") + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready")
        time.sleep(0.05)
