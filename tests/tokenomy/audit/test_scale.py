"""The audit at scale without a million calls: the reader shares what repeats and holds
no parse tree, the spend tables are summed without a record per call, and the columns
work out each distinct shared object once."""

import gzip
import json
import tracemalloc

from tokenomy.audit import load_workload
from tokenomy.audit.plugins import IdentityMemo
from tokenomy.audit.workload import iter_lines, read_line
from tokenomy.monitor.aggregate import Aggregator, aggregate
from tokenomy.monitor.records import UsageRecord

_SYSTEM = "You are the support assistant of Acme Cloud. " * 200  # ~1,800 tokens


def _line(i, question):
    return json.dumps(
        {
            "id": f"c{i}",
            "timestamp": 1_790_000_000 + 37 * i,
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": question},
            ],
            "response": f"The answer to {question}",
            "tags": {"user": f"u{i % 7}", "feature": "faq"},
        }
    )


def _repeated(path, n, distinct=5):
    with gzip.open(path, "wt") as f:
        for i in range(n):
            f.write(_line(i, f"question {i % distinct}?") + "\n")
    return path


def test_repeated_calls_share_one_conversation_answer_and_tags(tmp_path):
    calls = load_workload(_repeated(tmp_path / "w.jsonl.gz", 50)).calls
    assert calls[0].messages is calls[5].messages  # the same conversation: one object
    assert calls[0].messages is not calls[1].messages
    assert calls[0].messages[0] is calls[1].messages[0]  # the system prompt: one object
    assert calls[0].response is calls[5].response
    assert calls[0].tags is calls[7].tags and dict(calls[0].tags) == {
        "user": "u0",
        "feature": "faq",
    }
    assert [c.id for c in calls] == [f"c{i}" for i in range(50)]


def test_the_reader_holds_a_few_hundred_bytes_per_repeated_call(tmp_path):
    # a parse tree per call (dicts, lists and a copy of each text) would hold >= 8 KB
    # per call here (the system prompt alone is 9 KB); the reader keeps the call's own
    # fields and shares the rest
    path = _repeated(tmp_path / "w.jsonl.gz", 4000)
    tracemalloc.start()
    try:
        workload = load_workload(path)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(workload.calls) == 4000
    assert held / 4000 < 800, f"{held / 4000:.0f} bytes held per call"


def test_blocks_keep_long_lines_crlf_and_a_last_line_without_newline(tmp_path):
    long = _line(1, "x" * 200_000)  # longer than a 64 KB block
    path = tmp_path / "w.jsonl"
    path.write_bytes(f"{_line(0, 'a')}\r\n{long}\n\n{_line(2, 'b')}".encode())
    lines = list(iter_lines(path))
    assert [n for n, _ in lines] == [1, 2, 3, 4]
    assert lines[1][1] == long.encode() and lines[2][1] == b""
    assert [c.id for c in load_workload(path).calls] == ["c0", "c1", "c2"]


def test_lines_the_fast_parser_reads_otherwise_get_the_standard_librarys_reading():
    # a 20-digit integer (orjson: a float) and a lone surrogate (orjson: an error)
    big = json.loads(_line(0, "q"))
    big["max_tokens"] = 10**20
    try:
        read_line(json.dumps(big).encode(), 1)
    except ValueError as exc:
        assert "between 1 and 10^10" in str(exc)
    else:  # pragma: no cover - the check must fail loudly
        raise AssertionError("a 20-digit max_tokens was accepted")
    call = read_line(_line(0, "\ud800").encode(), 1)
    assert call.messages[1]["content"] == "\ufffd"


def test_the_aggregator_sums_a_stream_as_aggregate_sums_a_list():
    records = [
        UsageRecord(
            model=["gpt-4o", "gpt-4o-mini", None][i % 3],
            input_tokens=i,
            output_tokens=2 * i,
            cost_usd=None if i % 5 == 0 else i / 1000,
            tags={"user": f"u{i % 4}"} if i % 2 else {},
            timestamp=1_790_000_000 + 3000.5 * i,
            exact=bool(i % 3),
        )
        for i in range(200)
    ]
    for by, bucket in ((("model",), None), (("user",), None), ((), "hour"), ((), "week")):
        streamed = Aggregator(by, bucket=bucket)
        for r in records:
            streamed.add(r)
        assert streamed.summaries() == aggregate(records, by, bucket=bucket)


def test_identity_memo_works_each_shared_object_out_once():
    seen = []
    memo = IdentityMemo(lambda m: seen.append(m) or len(m))
    a, b = tuple(["x", "y"]), tuple(["x", "y"])  # equal, but two objects
    assert [memo(a), memo(a), memo(b)] == [2, 2, 2]
    assert len(seen) == 2 and seen[0] is a and seen[1] is b
    small = IdentityMemo(len, limit=2)
    for text in ("a", "bb", "ccc"):
        small(text)
    assert len(small) <= 2
