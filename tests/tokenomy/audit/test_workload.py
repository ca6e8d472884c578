import gzip
import json

import pytest

from tokenomy.audit import load_workload
from tokenomy.audit.workload import parse_call
from tokenomy.errors import WorkloadError
from tokenomy.tokens import TokenUsage


def test_good_lines_are_read_and_broken_ones_named(workload):
    wl = load_workload(workload)
    assert len(wl.calls) == 40
    assert [(e.line, "JSON" in e.reason or "messages" in e.reason) for e in wl.errors] == [
        (41, True),
        (42, True),
    ]
    assert wl.calls[3].usage == TokenUsage(1234, 56)


def test_gzip_workloads(tmp_path, workload):
    gz = tmp_path / "calls.jsonl.gz"
    gz.write_bytes(gzip.compress(workload.read_bytes()))
    assert len(load_workload(gz).calls) == 40


def test_progress_reports_every_byte(workload):
    seen = []
    load_workload(workload, progress=seen.append)
    assert sum(seen) == workload.stat().st_size


def test_request_response_log_shape():
    obj = {
        "request": {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 9,
        },
        "response": {
            "choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 2},
        },
        "timestamp": "2026-11-02T10:00:00Z",
        "tags": {"user": "u"},
    }
    c = parse_call(obj, 1)
    assert (c.model, c.response, c.max_tokens, c.finish_reason) == ("gpt-4o", "hello", 9, "stop")
    assert c.usage == TokenUsage(8, 2)
    assert c.timestamp == 1793613600.0


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([], "expected a JSON object"),
        ({"messages": [{"role": "user", "content": "x"}]}, "missing 'model'"),
        ({"model": "m"}, "missing 'messages'"),
        ({"model": "m", "messages": []}, "non-empty list"),
        ({"model": "m", "messages": ["hi"]}, "message 0"),
        ({"model": "m", "prompt": "p", "usage": {"foo": 1}}, "no token counts"),
        ({"model": "m", "prompt": "p", "max_tokens": "10"}, "max_tokens"),
        ({"model": "m", "prompt": "p", "timestamp": "yesterday"}, "isoformat"),
    ],
)
def test_invalid_lines_say_what_is_wrong(obj, reason):
    with pytest.raises(ValueError, match=reason):
        parse_call(obj, 1)


def test_missing_or_empty_files_fail_clearly(tmp_path):
    with pytest.raises(WorkloadError, match="does not exist"):
        load_workload(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(WorkloadError, match="empty"):
        load_workload(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"x": 1}) + "\n")
    with pytest.raises(WorkloadError, match="line 1"):
        load_workload(bad)
