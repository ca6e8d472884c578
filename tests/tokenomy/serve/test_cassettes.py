"""A real OpenAI-compatible server's answer (SmolLM2 through llama-cpp-python, recorded
in ``cassettes/``) through the gateway: the openai client gets what the server sent."""

from __future__ import annotations

import json

import pytest
import yaml
from cassettes import BASE_URL, CASSETTES, MODEL, RECORDING
from gateway_support import ACME, client

from tokenomy.serve import hash_key

vcr = pytest.importorskip("vcr")

pytestmark = [
    pytest.mark.cassette,
    pytest.mark.skipif(RECORDING, reason="replays a cassette the LangChain tests record"),
]


def test_a_recorded_stream_reaches_the_client_unchanged(serve_gateway):
    url = serve_gateway(
        models={MODEL: {"base_url": BASE_URL, "price": {"input": 0, "output": 0}}},
        routes={},
        tenants={"acme": {"key_sha256": [hash_key(ACME)]}},
        upstream_client="httpx",  # the transport vcrpy replays
    )
    replay = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        ignore_hosts=["localhost"],  # the client -> gateway hop is live
    )
    with replay.use_cassette("langchain_stream.yaml"):
        chunks = list(
            client(url.replace("127.0.0.1", "localhost")).chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "Say hello."}],
                max_completion_tokens=32,
                stream=True,
                stream_options={"include_usage": True},
                temperature=0.0,
            )
        )
    recorded = [
        json.loads(line[6:])
        for line in yaml.safe_load((CASSETTES / "langchain_stream.yaml").read_text())[
            "interactions"
        ][0]["response"]["body"]["string"].splitlines()
        if line.startswith("data: {")
    ]
    got = [c.model_dump(exclude_none=True) for c in chunks]
    assert [c["choices"] for c in got] == [
        [{k: v for k, v in choice.items() if v is not None} for choice in c["choices"]]
        for c in recorded
    ]
    assert "".join(c.choices[0].delta.content or "" for c in chunks).startswith("Hello!")
