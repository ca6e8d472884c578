"""The official ``openai`` client against the gateway: chat, streaming, tools and JSON
mode work unchanged; a repeat is served from the cache; tenants are kept apart."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAI, uvicorn_thread
from gateway_support import ACME, GLOBEX, UPSTREAM_KEY, aclient, client, config_for

from tokenomy.serve import TRACE_HEADER, GatewayConfig, create_app

openai = pytest.importorskip("openai")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def url(shared_upstream: FakeOpenAI) -> Iterator[str]:
    """One gateway for the tests that need no configuration of their own (each asks
    its own questions, so the shared cache does not couple them)."""
    config = GatewayConfig.from_mapping(config_for(shared_upstream.url))
    with uvicorn_thread(create_app(config, environ={"UPSTREAM_KEY": UPSTREAM_KEY})) as base:
        yield base


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def trace_of(raw: Any) -> dict[str, Any]:
    return json.loads(raw.headers[TRACE_HEADER])


def outcomes(trace: dict[str, Any]) -> dict[str, str]:
    return {s["stage"]: s["outcome"] for s in trace["stages"]}


# -- chat ----------------------------------------------------------------------------------


def test_chat_works_unchanged_and_the_repeat_comes_from_the_cache(url, shared_upstream):
    before = shared_upstream.total
    first = client(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask("What is the capital of France?")
    )
    second = client(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask("What is the capital of France?")
    )
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].message.content == "Echo: What is the capital of France?"
    assert b.usage.prompt_tokens == a.usage.prompt_tokens
    assert shared_upstream.total - before == 1
    assert outcomes(trace_of(first))["cache"] == "miss"
    assert outcomes(trace_of(second))["cache"] == "hit"
    assert trace_of(second)["saved_tokens"] > 0
    assert a.id != b.id  # a replayed answer is a response of its own
    assert "tokenomy" not in (b.model_extra or {})  # only when asked


def test_the_trace_field_is_there_only_when_asked(url):
    plain = client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-field-1"))
    asked = client(url).chat.completions.create(
        model="gpt-4o-mini", messages=ask("q-field-2"), extra_body={"tokenomy": {"trace": True}}
    )
    by_header = client(url).chat.completions.create(
        model="gpt-4o-mini", messages=ask("q-field-3"), extra_headers={"X-Tokenomy-Trace": "1"}
    )
    assert "tokenomy" not in (plain.model_extra or {})
    assert outcomes(asked.model_extra["tokenomy"])["cache"] == "miss"
    assert "stages" in by_header.model_extra["tokenomy"]


def test_the_upstream_gets_its_own_key_and_model_name_never_the_tenants(url, shared_upstream):
    client(url).chat.completions.create(
        model="gpt-4o-mini", messages=ask("q-keys"), extra_body={"tokenomy": {"trace": True}}
    )
    sent = shared_upstream.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert ACME not in json.dumps(sent)
    assert "tokenomy" not in sent["body"]
    client(url).chat.completions.create(model="local", messages=ask("q-keys"))
    sent = shared_upstream.requests[-1]
    assert sent["body"]["model"] == "smollm2"  # the upstream's own name for it
    assert "authorization" not in sent["headers"]  # it has no api_key_env


def test_streaming_works_unchanged_and_a_repeat_replays_the_cached_answer(url, shared_upstream):
    before = shared_upstream.total

    def stream() -> tuple[str, list[Any], Any]:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=ask("Tell me a streamed story"), stream=True
        )
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return text, chunks, raw

    text1, chunks1, raw1 = stream()
    text2, chunks2, raw2 = stream()
    assert text1 == text2 == "Echo: Tell me a streamed story"
    assert shared_upstream.total - before == 1
    assert outcomes(trace_of(raw1))["cache"] == "miss"
    assert outcomes(trace_of(raw2))["cache"] == "hit"
    # the gateway asked the upstream for usage, but the client did not: no usage chunk
    assert all(c.choices for c in chunks1 + chunks2)
    assert chunks2[-1].choices[0].finish_reason == "stop"


def test_a_stream_gets_usage_and_the_trace_chunk_when_asked(url):
    chunks = list(
        client(url).chat.completions.create(
            model="gpt-4o-mini",
            messages=ask("q-stream-usage"),
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"tokenomy": {"trace": True}},
        )
    )
    usage = [c for c in chunks if not c.choices and c.usage]
    traced = [c for c in chunks if (c.model_extra or {}).get("tokenomy")]
    assert usage and usage[0].usage.completion_tokens > 0
    assert len(traced) == 1 and outcomes(traced[0].model_extra["tokenomy"])["settle"] == "stored"


def test_tools_work_unchanged_streamed_or_not(url):
    messages = ask("What is the weather in Paris?")
    answer = client(url).chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
    )
    call = answer.choices[0].message.tool_calls[0]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    with client(url).chat.completions.stream(
        model="gpt-4o-mini", messages=ask("Weather in Rome?"), tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls[0]
    assert streamed.function.name == "get_weather" and streamed.id == "call_fake_1"
    assert json.loads(streamed.function.arguments) == {"city": "Paris"}
    # the cached tool call replays as a stream the client assembles the same way
    with client(url).chat.completions.stream(
        model="gpt-4o-mini", messages=ask("Weather in Rome?"), tools=[WEATHER_TOOL]
    ) as stream:
        again = stream.get_final_completion().choices[0].message.tool_calls[0]
    assert again.function.arguments == streamed.function.arguments


def test_a_different_tool_list_is_another_cache_entry(url, shared_upstream):
    before = shared_upstream.total
    for tools in (
        [WEATHER_TOOL],
        [
            WEATHER_TOOL,
            {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "name": "get_time"}},
        ],
    ):
        client(url).chat.completions.create(
            model="gpt-4o-mini", messages=ask("q-tools-partition"), tools=tools
        )
    assert shared_upstream.total - before == 2


def test_json_mode_works_unchanged(url):
    answer = client(url).chat.completions.create(
        model="gpt-4o-mini",
        messages=ask("Give me JSON about Paris"),
        response_format={"type": "json_object"},
    )
    assert json.loads(answer.choices[0].message.content)["question"] == "Give me JSON about Paris"


def test_generation_parameters_partition_the_cache(url, shared_upstream):
    before = shared_upstream.total
    for temperature in (0.0, 0.7, 0.0):
        client(url).chat.completions.create(
            model="gpt-4o-mini", messages=ask("q-temperature"), temperature=temperature
        )
    assert shared_upstream.total - before == 2


def test_completions_and_embeddings_pass_through_and_are_cached(url, shared_upstream):
    before = shared_upstream.calls["/v1/completions"]
    for _ in range(2):
        done = client(url).completions.create(model="gpt-4o-mini", prompt="Say hi")
        assert done.choices[0].text == "Echo: Say hi"
    streamed = client(url).completions.create(model="gpt-4o-mini", prompt="Say hi", stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "Echo: Say hi"
    assert shared_upstream.calls["/v1/completions"] - before == 1
    before = shared_upstream.calls["/v1/embeddings"]
    vectors = [
        client(url).embeddings.create(model="gpt-4o-mini", input=["a", "b"]) for _ in range(2)
    ]
    assert (
        len(vectors[0].data) == 2 and vectors[0].data[1].embedding == vectors[1].data[1].embedding
    )
    assert shared_upstream.calls["/v1/embeddings"] - before == 1


def test_models_health_and_metrics(url):
    assert {m.id for m in client(url).models.list()} == {"gpt-4o-mini", "gpt-4o", "local", "auto"}
    assert {m.id for m in client(url, GLOBEX).models.list()} == {"gpt-4o-mini", "auto"}
    root = url.removesuffix("/v1")
    assert httpx.get(f"{root}/healthz").json() == {"status": "ok", "redis": "off", "in_flight": 0}
    client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-metrics"))
    metrics = httpx.get(f"{root}/metrics").text
    assert (
        'tokenomy_requests_total{path="/v1/chat/completions",status="200",tenant="acme"}' in metrics
    )
    assert "tokenomy_cache_lookups_total" in metrics and "tokenomy_upstream_calls_total" in metrics
    assert ACME not in metrics and UPSTREAM_KEY not in metrics


def test_routing_chooses_a_model_and_says_which(url, shared_upstream):
    raw = client(url).chat.completions.with_raw_response.create(
        model="auto", messages=ask("What is 2 + 2?")
    )
    route = trace_of(raw)["route"]
    assert route["model"] in ("gpt-4o-mini", "gpt-4o")
    assert shared_upstream.requests[-1]["body"]["model"] == route["model"]


# -- refusals: nothing is forwarded ----------------------------------------------------------


def test_an_unknown_key_gets_401_and_nothing_is_forwarded(url, shared_upstream):
    before = shared_upstream.total
    for key in ("sk-wrong", ""):
        with pytest.raises(openai.AuthenticationError) as err:
            client(url, key or "x").chat.completions.create(
                model="gpt-4o-mini", messages=ask("q-401")
            )
        assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    response = httpx.post(
        f"{url}/chat/completions", json={"model": "gpt-4o-mini", "messages": ask("q-401")}
    )
    assert response.status_code == 401
    assert shared_upstream.total == before


def test_a_model_outside_the_tenants_list_gets_403_and_an_unknown_one_404(url, shared_upstream):
    before = shared_upstream.total
    with pytest.raises(openai.PermissionDeniedError, match="may not use model 'gpt-4o'"):
        client(url, GLOBEX).chat.completions.create(model="gpt-4o", messages=ask("q-403"))
    with pytest.raises(openai.NotFoundError, match="does not exist on this gateway"):
        client(url).chat.completions.create(model="gpt-9", messages=ask("q-404"))
    with pytest.raises(openai.BadRequestError, match="messages"):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=[])
    assert shared_upstream.total == before


def test_an_upstream_error_is_relayed_with_its_status(url, shared_upstream):
    shared_upstream.fail_with.append(400)
    with pytest.raises(openai.BadRequestError, match="fake upstream failure 400"):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-upstream-400"))
    shared_upstream.fail_with.append(400)
    with pytest.raises(openai.BadRequestError, match="fake upstream failure 400"):
        list(
            client(url).chat.completions.create(
                model="gpt-4o-mini", messages=ask("q-upstream-400s"), stream=True
            )
        )


# -- tenants ---------------------------------------------------------------------------------


def test_one_tenants_cache_entries_are_never_served_to_another(url, shared_upstream):
    before = shared_upstream.total
    question = ask("What is our secret launch date?")
    acme = client(url, ACME).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=question
    )
    globex = client(url, GLOBEX).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=question
    )
    acme_again = client(url, ACME).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=question
    )
    assert outcomes(trace_of(acme))["cache"] == "miss"
    assert outcomes(trace_of(globex))["cache"] == "miss"  # the same question, another tenant
    assert outcomes(trace_of(acme_again))["cache"] == "hit"
    assert shared_upstream.total - before == 2


def test_scope_by_user_keeps_users_of_a_tenant_apart(serve_gateway, upstream):
    url = serve_gateway(
        tenants={
            "acme": {
                "key_sha256": [config_for("")["tenants"]["acme"]["key_sha256"][0]],
                "scope_by_user": True,
            }
        }
    )
    for user in ("alice", "bob", "alice"):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q"), user=user)
    assert upstream.total == 2


def test_a_tenant_over_its_rate_limit_gets_429_with_retry_after(serve_gateway, upstream):
    url = serve_gateway(
        tenants={
            "acme": {
                "key_sha256": config_for("")["tenants"]["acme"]["key_sha256"],
                "rate_limit_rpm": 2,
            }
        }
    )
    for i in range(2):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask(f"q{i}"))
    with pytest.raises(openai.RateLimitError) as err:
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q3"))
    assert int(err.value.response.headers["retry-after"]) >= 1
    assert upstream.total == 2


def test_a_tenant_over_its_budget_gets_429_insufficient_quota(serve_gateway, upstream):
    url = serve_gateway(
        tenants={
            "acme": {
                "key_sha256": config_for("")["tenants"]["acme"]["key_sha256"],
                "budget_usd": 0.00001,
            }
        }
    )
    with pytest.raises(openai.RateLimitError) as err:
        client(url).chat.completions.create(
            model="gpt-4o", messages=ask("q-budget"), max_tokens=4000
        )
    assert err.value.code == "budget_exceeded"
    assert upstream.total == 0


def test_cache_control_no_cache_makes_a_fresh_call(url, shared_upstream):
    before = shared_upstream.total
    for headers in ({}, {"Cache-Control": "no-cache"}, {}):
        client(url).chat.completions.create(
            model="gpt-4o-mini", messages=ask("q-no-cache"), extra_headers=headers
        )
    assert shared_upstream.total - before == 2


# -- de-duplication in one process -----------------------------------------------------------


def test_identical_concurrent_requests_share_one_upstream_call_without_a_cache(
    serve_gateway, upstream
):
    upstream.latency_s = 0.3
    url = serve_gateway(cache={"mode": "none"})

    async def burst(stream: bool) -> list[str]:
        api = aclient(url)

        async def one() -> str:
            if not stream:
                r = await api.chat.completions.create(model="gpt-4o-mini", messages=ask("dup"))
                return r.choices[0].message.content
            parts = []
            async for c in await api.chat.completions.create(
                model="gpt-4o-mini", messages=ask("dup-stream"), stream=True
            ):
                parts.append(c.choices[0].delta.content or "" if c.choices else "")
            return "".join(parts)

        return await asyncio.gather(*(one() for _ in range(20)))

    assert set(asyncio.run(burst(False))) == {"Echo: dup"}
    assert set(asyncio.run(burst(True))) == {"Echo: dup-stream"}
    assert upstream.total == 2


def test_the_ledger_records_calls_hits_and_shared_calls(serve_gateway, upstream, tmp_path):
    from tokenomy.monitor.sqlite import SQLiteLedger

    upstream.latency_s = 0.2
    url = serve_gateway(ledger_path=str(tmp_path / "usage.db"), cache={"mode": "exact"})

    async def burst() -> None:
        api = aclient(url)
        await asyncio.gather(
            *(
                api.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=ask("q-ledger"),
                    extra_body={"tokenomy": {"tags": {"feature": "faq"}}},
                )
                for _ in range(3)
            )
        )

    asyncio.run(burst())
    client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-ledger"))
    records = list(SQLiteLedger(tmp_path / "usage.db").records())
    assert sum(1 for r in records if not r.cache_hit) == 1  # one real call, charged
    assert sum(1 for r in records if r.cache_hit) >= 1  # the repeat, recorded as saved
    assert all(
        r.tags.get("tenant") == "acme" and r.tags.get("feature") == "faq"
        for r in records
        if not r.cache_hit
    )


def test_secrets_never_reach_the_logs_or_the_trace(serve_gateway, upstream, caplog):
    caplog.set_level(logging.DEBUG)
    url = serve_gateway()
    upstream.fail_with.append(500)
    with pytest.raises(openai.InternalServerError):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-secret"))
    raw = client(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask("q-secret")
    )
    text = caplog.text + raw.headers[TRACE_HEADER]
    assert UPSTREAM_KEY not in text and ACME not in text


def test_the_context_stage_shapes_what_is_sent_and_the_cache_keys_on_what_was_asked(
    serve_gateway, upstream
):
    url = serve_gateway(
        context={"window_tokens": 64, "relevance": False, "summarize": False},
        tenants={"acme": {"key_sha256": config_for("")["tenants"]["acme"]["key_sha256"]}},
    )
    history = []
    for i in range(12):
        history += [
            {"role": "user", "content": f"Turn {i}: tell me about topic number {i} please."},
            {"role": "assistant", "content": f"Topic {i} is a fine topic with many facts."},
        ]
    messages = [*history, {"role": "user", "content": "And the last question?"}]
    for _ in range(2):
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages
        )
    sent = upstream.requests[-1]["body"]["messages"]
    assert len(sent) < len(messages) and sent[-1] == messages[-1]
    assert upstream.total == 1  # the repeat is keyed on the caller's messages: a hit
    assert outcomes(trace_of(raw))["cache"] == "hit"


def test_httpx_own_transport_works_too(serve_gateway, upstream):
    url = serve_gateway(upstream_client="httpx")
    answer = client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-httpx"))
    streamed = client(url).chat.completions.create(
        model="gpt-4o-mini", messages=ask("q-httpx-stream"), stream=True
    )
    assert answer.choices[0].message.content == "Echo: q-httpx"
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == "Echo: q-httpx-stream"
    upstream.fail_with.append(400)
    with pytest.raises(openai.BadRequestError, match="fake upstream failure 400"):
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-httpx-400"))


def test_an_unreachable_upstream_is_a_502_and_a_slow_one_a_504(serve_gateway, upstream):
    from fake_openai import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    url = serve_gateway(
        models={
            "gpt-4o-mini": {"base_url": dead},
            "gpt-4o": {"base_url": upstream.url, "timeout_s": 0.2},
        }
    )
    with pytest.raises(openai.InternalServerError) as err:
        client(url).chat.completions.create(model="gpt-4o-mini", messages=ask("q-502"))
    assert err.value.status_code == 502
    upstream.latency_s = 1.0
    with pytest.raises(openai.InternalServerError) as err:
        client(url).chat.completions.create(model="gpt-4o", messages=ask("q-504"))
    assert err.value.status_code == 504
