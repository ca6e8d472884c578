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


def test_responses_api_log_shape():
    obj = {
        "request": {
            "model": "gpt-4o",
            "instructions": "Be brief.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "max_output_tokens": 9,
        },
        "response": {
            "status": "incomplete",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "hel"}]}],
            "usage": {"input_tokens": 8, "output_tokens": 9},
        },
    }
    c = parse_call(obj, 1)
    assert c.messages == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    )
    assert (c.response, c.max_tokens, c.finish_reason) == ("hel", 9, "length")
    assert c.usage == TokenUsage(8, 9)
    with pytest.raises(ValueError, match="'input' must be"):
        parse_call({"model": "m", "input": []}, 2)


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


# -- no line can stop the audit ------------------------------------------------------

GOOD = {
    "id": "ok",
    "timestamp": 1_793_000_000,
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Hi"}],
    "response": "Hello",
    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    "tags": {"feature": "faq"},
}


def _good(**changes):
    return json.dumps({**GOOD, **changes})


# the inputs of issue 12 that used to abort the whole audit, and two more
NASTY = {
    "a 5,000-digit integer": '{"model": "gpt-4o", "prompt": "p", "usage": {"prompt_tokens": '
    + "9" * 5000
    + "}}",
    "JSON nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "usage of 1e400": _good(usage=None).replace(
        '"usage": null', '"usage": {"prompt_tokens": 1e400}'
    ),
    "usage of Infinity": _good(usage=None).replace(
        '"usage": null', '"usage": {"prompt_tokens": Infinity}'
    ),
    "a tool that is not an object": _good(tools=[5]),
    "timestamp 1e308": _good(timestamp=1e308),
    "timestamp -1e20": _good(timestamp=-1e20),
    "timestamp in the year 10000": _good(timestamp="10000-01-01T00:00:00Z"),
    "a negative token count": _good(usage={"prompt_tokens": -5, "completion_tokens": 1}),
    "a negative max_tokens": _good(max_tokens=-3),
    "tags that are objects": _good(tags={"user": {"id": [1, 2]}}),
}


@pytest.mark.parametrize("case", list(NASTY))
def test_a_nasty_line_is_skipped_with_its_number_and_the_rest_audited(tmp_path, case):
    from tokenomy.audit import audit_calls

    path = tmp_path / "w.jsonl"
    path.write_text("\n".join([_good(id="a"), NASTY[case], _good(id="b")]) + "\n")
    report = audit_calls(load_workload(path), plugins=[])
    assert [c.call.id for c in report.calls] == ["a", "b"]
    assert [e.line for e in report.errors] == [2]
    assert report.errors[0].reason
    assert (report.totals.input_tokens, report.totals.output_tokens) == (20, 10)


def test_a_negative_count_says_so():
    with pytest.raises(ValueError, match="cannot be negative"):
        load_line(_good(usage={"prompt_tokens": 3, "completion_tokens": -1}))


def load_line(text):
    from tokenomy.audit.workload import read_line

    return read_line(text.encode(), 1)


def test_lone_surrogates_are_replaced_so_the_line_can_be_printed_and_written():
    call = load_line(_good(model="gpt-4o\ud800", tags={"user": "\udfff"}))
    assert call.model == "gpt-4o\ufffd" and call.tags["user"] == "\ufffd"
    call.model.encode("utf-8")  # printable and writable


def test_a_truncated_gzip_is_audited_up_to_the_break(tmp_path):
    lines = [
        _good(id=f"c{i}", messages=[{"role": "user", "content": f"q{i} " * 200}])
        for i in range(400)
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    wl = load_workload(path)
    assert 0 < len(wl.calls) < 400
    assert [c.id for c in wl.calls] == [f"c{i}" for i in range(len(wl.calls))]  # intact prefix
    assert wl.truncated and "gzip stream breaks after line" in wl.truncated
    assert wl.errors[-1].line == len(wl.calls) + 1
    corrupt = bytearray(data)
    corrupt[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    path.write_bytes(bytes(corrupt))
    wl = load_workload(path)
    assert wl.truncated and 0 < len(wl.calls) < 400


# -- fuzz: random lines among good ones --------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = [
    "id",
    "timestamp",
    "model",
    "messages",
    "response",
    "usage",
    "tags",
    "max_tokens",
    "tools",
    "latency_ms",
    "prompt",
    "request",
    "finish_reason",
]


def _mutated(draw):
    obj = json.loads(_good())
    field = draw(st.sampled_from(_FIELDS))
    obj[field] = draw(_json)
    if draw(st.booleans()):
        obj["usage"] = {
            draw(st.sampled_from(["prompt_tokens", "input_tokens", "completion_tokens"])): draw(
                _json
            )
        }
    return json.dumps(obj, allow_nan=True)


@st.composite
def _bad_line(draw):
    kind = draw(
        st.sampled_from(["json", "mutated", "deep", "huge", "control", "surrogate", "bytes"])
    )
    if kind == "json":
        return json.dumps(draw(_json), allow_nan=True)
    if kind == "mutated":
        return _mutated(draw)
    if kind == "deep":
        n = draw(st.integers(min_value=500, max_value=50_000))
        return draw(st.sampled_from(["[", '{"a":'])) * n
    if kind == "huge":
        digits = "9" * draw(st.integers(min_value=20, max_value=6000))
        return _good().replace('"prompt_tokens": 10', f'"prompt_tokens": {digits}')
    if kind == "control":
        junk = draw(st.text(alphabet=st.characters(max_codepoint=0x9F), min_size=1, max_size=10))
        return _good(model="gpt\x1b]0;x\x07" + junk, id=junk)
    if kind == "surrogate":
        return _good(model="m\ud800", messages=[{"role": "user", "content": "\udc00"}])
    return draw(st.binary(min_size=1, max_size=40)).decode("latin-1")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bad=st.lists(_bad_line(), min_size=1, max_size=6), seed=st.randoms())
def test_fuzz_the_audit_never_raises_and_reports_every_bad_line(tmp_path, bad, seed):
    from tokenomy.audit import audit_calls, render_html, render_text

    good = [_good(id=f"good{i}") for i in range(4)]
    # one line each: a newline inside a generated line would make two
    lines = [("good", g) for g in good] + [("bad", b.replace("\n", " ")) for b in bad]
    seed.shuffle(lines)
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(t.encode("utf-8", "surrogatepass") for _, t in lines) + b"\n")
    report = audit_calls(load_workload(path), plugins=[])
    seen = [c.call.line for c in report.calls] + [e.line for e in report.errors]
    raw = [t.encode("utf-8", "surrogatepass") for _, t in lines]
    numbers = [i for i, t in enumerate(raw, start=1) if t.strip()]  # blank lines are skipped
    assert sorted(seen) == numbers  # every line is either audited or reported, once
    good_lines = {i for i, (k, _) in enumerate(lines, start=1) if k == "good"}
    kept = {c.call.line: c for c in report.calls}
    assert good_lines <= kept.keys()
    assert all(e.reason for e in report.errors)
    for line in good_lines:  # the good lines' totals are theirs, unchanged
        assert (kept[line].usage.input_tokens, kept[line].usage.output_tokens) == (10, 5)
    text = render_text(report)
    assert not any(ch in text for ch in "\x1b\x07\x00\x9b")
    render_html(report).encode("utf-8")


def test_repeated_texts_are_held_once(tmp_path):
    import json

    from tokenomy.audit import load_workload

    system = "You are a support assistant. " * 50
    lines = [
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"q{i}"},
            ],
            "response": "Thanks for reaching out!",
        }
        for i in range(3)
    ]
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    calls = load_workload(path).calls
    assert calls[0].messages[0] is calls[2].messages[0]  # one system prompt object
    assert calls[0].response is calls[1].response
    assert [c.messages[1]["content"] for c in calls] == ["q0", "q1", "q2"]
