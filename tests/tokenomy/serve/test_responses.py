"""The Responses API (``POST /v1/responses``) through the gateway's pipeline, driven by
the official ``openai`` client: cached per tenant, charged to budgets and the ledger,
capped, routed, streamed (a hit replays as events)."""

from __future__ import annotations

import json

import pytest
from gateway_support import ACME, GLOBEX, client, config_for

from tokenomy.serve import TRACE_HEADER

openai = pytest.importorskip("openai")


def test_a_response_is_cached_per_tenant_and_keeps_its_id(serve_gateway, upstream):
    url = serve_gateway(cache={"mode": "exact"})
    api = client(url)
    first = api.responses.create(model="gpt-4o-mini", input="What is 2 + 2?")
    assert first.output_text == "Echo: What is 2 + 2?" and first.usage.input_tokens > 0
    raw = api.responses.with_raw_response.create(model="gpt-4o-mini", input="What is 2 + 2?")
    again = raw.parse()
    assert again.output_text == first.output_text
    assert again.id == first.id  # the upstream stored it: previous_response_id still works
    assert json.loads(raw.headers[TRACE_HEADER])["stages"][0]["outcome"] == "hit"
    assert upstream.calls["/v1/responses"] == 1
    other = client(url, key=GLOBEX).responses.create(model="gpt-4o-mini", input="What is 2 + 2?")
    assert other.output_text == first.output_text and upstream.calls["/v1/responses"] == 2


def test_instructions_and_message_items_reach_the_upstream_unchanged(serve_gateway, upstream):
    upstream.keep_requests = True
    url = serve_gateway()
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi there"}]},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Name a colour."},
    ]
    reply = client(url).responses.create(
        model="gpt-4o-mini", instructions="Be brief.", input=items, max_output_tokens=50
    )
    assert reply.output_text == "Echo: Name a colour."
    sent = next(r["body"] for r in upstream.requests if r["path"] == "/v1/responses")
    assert sent["input"] == items and sent["instructions"] == "Be brief."
    assert sent["max_output_tokens"] == 50 and "tokenomy" not in sent


def test_responses_are_recorded_and_charged_to_the_tenant_budget(serve_gateway, tmp_path):
    from tokenomy.monitor.sqlite import SQLiteLedger

    acme = config_for("")["tenants"]["acme"]["key_sha256"]
    url = serve_gateway(
        ledger_path=str(tmp_path / "usage.db"),
        tenants={"acme": {"key_sha256": acme, "budget_usd": 0.00001}},
    )
    with pytest.raises(openai.RateLimitError) as err:  # its upper bound is over the budget
        client(url).responses.create(
            model="gpt-4o", input="Write a long essay.", max_output_tokens=4000
        )
    assert err.value.code == "budget_exceeded"
    url = serve_gateway(ledger_path=str(tmp_path / "usage.db"))
    client(url).responses.create(model="gpt-4o-mini", input="q-ledger", user="alice")
    (record,) = SQLiteLedger(tmp_path / "usage.db").records()
    assert record.model == "gpt-4o-mini" and record.cost_usd > 0
    assert record.tags.get("tenant") == "acme" and record.tags.get("user") == "alice"


def test_a_cut_response_is_not_cached_and_a_route_picks_a_model(serve_gateway, upstream):
    url = serve_gateway(cache={"mode": "exact"})
    api = client(url)
    for _ in range(2):  # cut by its cap: never stored (the repeat is a cache miss)
        raw = api.responses.with_raw_response.create(
            model="gpt-4o-mini", input="one two three", max_output_tokens=2
        )
        assert raw.parse().status == "incomplete"
        stages = json.loads(raw.headers[TRACE_HEADER])["stages"]
        assert stages[0]["stage"] == "cache" and stages[0]["outcome"] == "miss"
    raw = api.responses.with_raw_response.create(model="auto", input="Say hello.")
    assert json.loads(raw.headers[TRACE_HEADER])["route"]["model"] in ("gpt-4o-mini", "gpt-4o")


def test_a_streamed_response_is_stored_and_a_hit_replays_as_events(serve_gateway, upstream):
    url = serve_gateway(cache={"mode": "exact"})
    api = client(url)
    texts, kinds = [], []
    for _ in range(2):  # a live stream, then the same question from the cache
        text, closing = "", None
        for event in api.responses.create(
            model="gpt-4o-mini", input="Tell me a fact.", stream=True
        ):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.completed":
                closing = event.response
        assert closing is not None and closing.output_text == text
        texts.append(text)
    assert texts == ["Echo: Tell me a fact."] * 2
    assert upstream.calls["/v1/responses"] == 1  # the second was replayed from the cache
    assert kinds.count("response.created") == 2 and kinds.count("response.completed") == 2
    plain = api.responses.create(model="gpt-4o-mini", input="Tell me a fact.")
    assert plain.output_text == texts[0] and upstream.calls["/v1/responses"] == 1


def test_a_streamed_response_is_charged_from_its_closing_usage(serve_gateway, tmp_path):
    from tokenomy.monitor.sqlite import SQLiteLedger

    url = serve_gateway(ledger_path=str(tmp_path / "usage.db"))
    events = list(client(url).responses.create(model="gpt-4o-mini", input="hi", stream=True))
    usage = events[-1].response.usage
    (record,) = SQLiteLedger(tmp_path / "usage.db").records()
    assert (record.input_tokens, record.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert record.exact  # the provider's own counts, not an estimate


def test_a_bad_input_is_refused_with_what_to_send(serve_gateway, upstream):
    api = client(serve_gateway())
    with pytest.raises(openai.BadRequestError, match="'input' must be"):
        api.responses.create(model="gpt-4o-mini", input=[])
    assert upstream.calls["/v1/responses"] == 0


def test_langchain_chatopenai_on_the_responses_api_works_through_it(serve_gateway, upstream):
    from langchain_openai import ChatOpenAI

    url = serve_gateway(cache={"mode": "exact"})
    llm = ChatOpenAI(
        model="gpt-4o-mini", base_url=url, api_key=ACME, use_responses_api=True, max_retries=0
    )
    asked = [("system", "Be brief."), ("human", "What is 2 + 2?")]
    first, again = llm.invoke(asked), llm.invoke(asked)
    assert first.text == again.text == "Echo: What is 2 + 2?"
    assert first.usage_metadata["input_tokens"] > 0 and upstream.calls["/v1/responses"] == 1
    assert "".join(c.text for c in llm.stream("Tell me a fact.")) == "Echo: Tell me a fact."


def windowed(serve_gateway, upstream, window_tokens: int) -> str:
    """A gateway (one tenant, acme) whose context stage windows each conversation to
    ``window_tokens``; the upstream keeps what it was sent."""
    upstream.keep_requests = True
    acme = config_for("")["tenants"]["acme"]["key_sha256"]
    return serve_gateway(
        context={"window_tokens": window_tokens, "relevance": False, "summarize": False},
        tenants={"acme": {"key_sha256": acme}},
    )


def test_the_context_stage_shortens_a_long_conversation_sent_as_input(serve_gateway, upstream):
    url = windowed(serve_gateway, upstream, window_tokens=64)
    items: list[dict] = []
    for i in range(12):
        items += [
            {"role": "user", "content": f"Turn {i}: tell me about topic number {i} please."},
            {"role": "assistant", "content": f"Topic {i} is a fine topic with many facts."},
        ]
    items.append({"role": "user", "content": "And the last question?"})
    api = client(url)
    reply = api.responses.create(model="gpt-4o-mini", instructions="Be brief.", input=items)
    assert reply.output_text == "Echo: And the last question?"
    sent = upstream.requests[-1]["body"]
    assert sent["instructions"] == "Be brief." and len(sent["input"]) < len(items)
    assert sent["input"][-1] == items[-1]
    # a function's output whose call is not in the input (it is in a previous
    # response) leaves the input as the client wrote it
    call = {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
    api.responses.create(model="gpt-4o-mini", input=[*items[:-1], call, items[-1]])
    assert upstream.requests[-1]["body"]["input"] == [*items[:-1], call, items[-1]]


def test_the_context_stage_keeps_each_function_call_with_its_output(serve_gateway, upstream):
    url = windowed(serve_gateway, upstream, window_tokens=160)
    items: list[dict] = []
    for i in range(10):  # an agent's turns: a question, a tool call, its output, an answer
        items += [
            {"role": "user", "content": f"What is the weather in city number {i}?"},
            {
                "type": "function_call",
                "id": f"fc_{i}",
                "call_id": f"call_{i}",
                "name": "weather",
                "arguments": json.dumps({"city": i}),
            },
            {"type": "function_call_output", "call_id": f"call_{i}", "output": f"sunny, {i} C"},
            {"role": "assistant", "content": f"It is sunny in city {i} at {i} degrees."},
        ]
    items.append({"role": "user", "content": "And which city was the warmest?"})
    reply = client(url).responses.create(model="gpt-4o-mini", input=items)
    assert reply.output_text == "Echo: And which city was the warmest?"
    sent = upstream.requests[-1]["body"]["input"]
    assert len(sent) < len(items) and sent[-1] == items[-1]
    assert all(item in items for item in sent)  # the client's own items, ids and all
    calls = {i["call_id"] for i in sent if i.get("type") == "function_call"}
    outputs = {i["call_id"] for i in sent if i.get("type") == "function_call_output"}
    assert calls == outputs and calls  # never a call without its output, or the reverse


def test_llamaindex_openairesponses_works_through_it(serve_gateway, upstream):
    responses_llm = pytest.importorskip("llama_index.llms.openai").OpenAIResponses
    from llama_index.core.llms import ChatMessage

    url = serve_gateway(cache={"mode": "exact"})
    llm = responses_llm(model="gpt-4o-mini", api_base=url, api_key=ACME, max_retries=0)
    asked = [ChatMessage(role="user", content="What is 2 + 2?")]
    first, again = llm.chat(asked), llm.chat(asked)
    assert first.message.content == again.message.content == "Echo: What is 2 + 2?"
    assert upstream.calls["/v1/responses"] == 1  # the repeat came from the cache
    streamed = llm.stream_chat([ChatMessage(role="user", content="Tell me a fact.")])
    assert "".join(c.delta or "" for c in streamed) == "Echo: Tell me a fact."
