"""CallLog: each recorded call as one line of the audit's JSON Lines format."""

import json

from tokenomy.audit import load_workload
from tokenomy.monitor import CallLog, UsageRecord, UsageRecorder


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_without_text_a_line_holds_usage_tags_and_an_empty_prompt(tmp_path):
    log = CallLog(tmp_path / "calls.jsonl")
    recorder = UsageRecorder(call_log=log, tags={"app": "a"})
    recorder.record_call(
        model="gpt-4o",
        prompt=[{"role": "user", "content": "secret plan"}],
        output_text="ok",
        latency_s=0.25,
        tags={"user": "u1"},
    )
    (line,) = lines(log.path)
    assert line["prompt"] == "" and line["redacted"] is True and "secret" not in json.dumps(line)
    assert line["tags"] == {"app": "a", "user": "u1"} and line["latency_ms"] == 250.0
    assert line["usage_estimated"] is True and line["usage"]["prompt_tokens"] > 0


def test_with_text_every_text_goes_through_the_redaction_hook(tmp_path):
    log = CallLog(tmp_path / "calls.jsonl", include_text=True, redact=str.upper)
    record = UsageRecord(model="gpt-4o", input_tokens=5, output_tokens=1)
    parts = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]
    log.write(record, prompt=[{"role": "user", "content": parts}], output_text="a cat")
    log.write(record, prompt="complete me", output_text="done")
    first, second = lines(log.path)
    assert first["messages"][0]["content"][0]["text"] == "LOOK" and first["response"] == "A CAT"
    assert second["prompt"] == "COMPLETE ME"


def test_a_cache_hit_is_logged_as_one_and_the_audit_reads_every_line(tmp_path):
    log = CallLog(tmp_path / "calls.jsonl", include_text=True)
    recorder = UsageRecorder(call_log=log)
    recorder.record_call(model="gpt-4o", prompt="hi", output_text="hello", cache_hit="llm_cache")
    recorder.record_call(model=None, prompt="hi", output_text="hello")
    hit, unknown = lines(log.path)
    assert hit["cache_hit"] is True and hit["usage"]["prompt_tokens"] == 0
    assert unknown["model"] == "unattributed"
    workload = load_workload(log.path)
    assert len(workload.calls) == 2 and not workload.errors


def test_a_write_that_fails_is_counted_and_never_raises(tmp_path):
    log = CallLog(tmp_path)  # a folder: cannot be opened for appending
    UsageRecorder(call_log=log).record_call(model="gpt-4o", prompt="hi", output_text="x")
    assert log.failures == 1
