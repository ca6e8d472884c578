"""Deferrable requests go through the upstream's Batch API (a fake one on loopback):
queued, sent as one JSON Lines job, polled, and each answer handed back."""

from __future__ import annotations

import asyncio
import json

import pytest
from gateway_support import aclient, client

from tokenomy.serve import TRACE_HEADER

openai = pytest.importorskip("openai")

# a burst's requests can arrive far more than 50 ms apart on a loaded machine
BATCH = {"enabled": True, "max_size": 32, "max_wait_ms": 1000, "poll_seconds": 0.05}
DEFER = {"tokenomy": {"deferrable": True}}


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def burst(url: str, questions: list[str], extra: dict) -> list:
    api = aclient(url)
    return await asyncio.gather(
        *(
            api.chat.completions.create(model="gpt-4o-mini", messages=ask(q), extra_body=extra)
            for q in questions
        ),
        return_exceptions=True,
    )


def test_deferrable_requests_are_answered_through_one_batch_job(serve_gateway, upstream):
    upstream.batch_delay_s = 0.2
    url = serve_gateway(batch=BATCH)
    questions = [f"classify ticket {i}" for i in range(5)]
    answers = asyncio.run(burst(url, questions, DEFER))
    assert [a.choices[0].message.content for a in answers] == [f"Echo: {q}" for q in questions]
    assert upstream.calls["/v1/chat/completions"] == 0
    assert upstream.calls["/v1/files"] == 1 and upstream.calls["/v1/batches"] == 1
    lines = upstream.files["file-1"].decode().splitlines()
    assert len(lines) == 5
    line = json.loads(lines[0])
    assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-4o-mini"
    raw = client(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask("classify ticket 0"), extra_body=DEFER
    )
    stages = json.loads(raw.headers[TRACE_HEADER])["stages"]
    assert stages[0]["outcome"] == "hit"  # the batch's answer was cached like any other


def test_a_failed_line_fails_its_request_only_and_jobs_hold_at_most_max_size(
    serve_gateway, upstream
):
    url = serve_gateway(batch={**BATCH, "max_size": 2})
    answers = asyncio.run(burst(url, ["ok 1", "please FAIL", "ok 2", "ok 3", "ok 4"], DEFER))
    failed = [a for a in answers if isinstance(a, Exception)]
    assert len(failed) == 1 and isinstance(failed[0], openai.BadRequestError)
    assert "this line failed" in str(failed[0])
    assert sum(1 for a in answers if not isinstance(a, Exception)) == 4
    assert upstream.calls["/v1/batches"] == 3  # 5 requests, 2 per job


def test_a_request_not_marked_deferrable_or_a_gateway_without_batching_calls_at_once(
    serve_gateway, upstream
):
    with_batch = serve_gateway(batch=BATCH)
    without = serve_gateway()
    asyncio.run(burst(with_batch, ["now 1"], {}))
    asyncio.run(burst(without, ["now 2"], DEFER))
    streamed = client(with_batch).chat.completions.create(
        model="gpt-4o-mini", messages=ask("now 3"), stream=True, extra_body=DEFER
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == "Echo: now 3"
    assert upstream.calls["/v1/chat/completions"] == 3 and upstream.calls["/v1/batches"] == 0


def test_identical_deferrable_requests_share_one_line(serve_gateway, upstream):
    url = serve_gateway(batch=BATCH, cache={"mode": "none"})
    answers = asyncio.run(burst(url, ["same question"] * 6, DEFER))
    assert {a.choices[0].message.content for a in answers} == {"Echo: same question"}
    assert len(upstream.files["file-1"].decode().splitlines()) == 1


class StubUpstream:
    """Answers the Batch API's calls from a script (no HTTP)."""

    name = "m"

    def __init__(self, status: str, output: list[dict]) -> None:
        self.status, self.output, self.polls = status, output, 0

    async def fetch(self, method, path, files=None, data=None):
        if path == "/files":
            return b'{"id": "file-1"}'
        if path.startswith("/batches/"):
            self.polls += 1
            done = self.polls > 1
            return json.dumps(
                {
                    "id": "b1",
                    "status": self.status if done else "in_progress",
                    "output_file_id": "out" if done else None,
                }
            ).encode()
        return "\n".join(json.dumps(x) for x in self.output).encode()

    async def post(self, path, body):
        return {"id": "b1", "status": "validating"}


async def test_a_job_that_fails_or_expires_fails_every_request_and_a_missing_line_its_own():
    from tokenomy.errors import UpstreamError
    from tokenomy.serve.batch import BatchAPI

    for status in ("failed", "expired"):
        api = BatchAPI(max_wait_s=0, poll_s=0.01)
        up = StubUpstream(status, [])
        results = await asyncio.gather(
            *(api.submit(up, "/chat/completions", {"n": i}) for i in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(r, UpstreamError) and status in str(r) for r in results)
        assert api.stats.failed == 3
    api = BatchAPI(max_wait_s=0, poll_s=0.01)
    answer = {"choices": [{"message": {"content": "ok"}}]}
    up = StubUpstream(
        "completed", [{"custom_id": "tokenomy-1", "response": {"status_code": 200, "body": answer}}]
    )
    first, second = await asyncio.gather(
        api.submit(up, "/chat/completions", {"n": 1}),
        api.submit(up, "/chat/completions", {"n": 2}),
        return_exceptions=True,
    )
    assert first == answer
    assert isinstance(second, UpstreamError) and "missing" in str(second)


def test_deferred_answers_are_charged_and_recorded_at_the_batch_price(
    serve_gateway, upstream, tmp_path
):
    from tokenomy.monitor.sqlite import SQLiteLedger
    from tokenomy.tokens import PriceTable, TokenUsage

    url = serve_gateway(batch=BATCH, ledger_path=str(tmp_path / "usage.db"))
    asyncio.run(burst(url, ["classify ticket 7"], DEFER))
    asyncio.run(burst(url, ["classify ticket 8"], {}))  # sent at once: the list price
    deferred, direct = sorted(
        SQLiteLedger(tmp_path / "usage.db").records(), key=lambda r: r.timestamp
    )
    for record, factor in ((deferred, 0.5), (direct, 1.0)):
        usage = TokenUsage(record.input_tokens, record.output_tokens)
        listed = PriceTable.default().cost("gpt-4o-mini", usage).total_usd
        assert record.cost_usd == pytest.approx(factor * listed) and listed > 0


def test_a_cache_hit_saves_what_the_request_would_have_been_billed(
    serve_gateway, upstream, tmp_path
):
    from tokenomy.monitor.sqlite import SQLiteLedger
    from tokenomy.tokens import PriceTable, TokenUsage

    url = serve_gateway(batch=BATCH, ledger_path=str(tmp_path / "usage.db"))
    asyncio.run(burst(url, ["classify ticket 9"], DEFER))  # answered by a job, stored
    asyncio.run(burst(url, ["classify ticket 9"], DEFER))  # a hit: a job would bill half
    asyncio.run(burst(url, ["classify ticket 9"], {}))  # a hit: a call would bill it all
    sent, deferred_hit, direct_hit = sorted(
        SQLiteLedger(tmp_path / "usage.db").records(), key=lambda r: r.timestamp
    )
    assert not sent.cache_hit and deferred_hit.cache_hit and direct_hit.cache_hit
    listed = PriceTable.default().cost(
        "gpt-4o-mini", TokenUsage(sent.input_tokens, sent.output_tokens)
    )
    assert listed.total_usd > 0
    assert sum(deferred_hit.saved_cost_usd.values()) == pytest.approx(0.5 * listed.total_usd)
    assert sum(direct_hit.saved_cost_usd.values()) == pytest.approx(listed.total_usd)


def test_deferrable_responses_requests_get_their_own_batch_job(serve_gateway, upstream):
    url = serve_gateway(batch=BATCH)

    async def both() -> tuple[list, list]:
        api = aclient(url)
        chats = burst(url, ["classify ticket 20", "classify ticket 21"], DEFER)
        responses = asyncio.gather(
            *(
                api.responses.create(model="gpt-4o-mini", input=q, extra_body=DEFER)
                for q in ("summarise report 1", "summarise report 2")
            )
        )
        return await asyncio.gather(chats, responses)

    chats, responses = asyncio.run(both())
    assert [c.choices[0].message.content for c in chats] == [
        "Echo: classify ticket 20",
        "Echo: classify ticket 21",
    ]
    assert [r.output_text for r in responses] == [
        "Echo: summarise report 1",
        "Echo: summarise report 2",
    ]
    assert upstream.calls["/v1/responses"] == 0 and upstream.calls["/v1/chat/completions"] == 0
    assert upstream.calls["/v1/batches"] == 2  # a job has one endpoint: one job each
    assert sorted(upstream.batch_lines) == [
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/responses", "/v1/responses"),
        ("/v1/responses", "/v1/responses"),
    ]
