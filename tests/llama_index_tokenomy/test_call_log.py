"""The LlamaIndex usage handler writes the audit's call log, which the audit reads."""

import json

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.llms import MockLLM

import llama_index_tokenomy as lit
from tokenomy.audit import load_workload
from tokenomy.monitor import CallLog


def test_each_llm_call_becomes_an_audit_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    handler = lit.enable(call_log=CallLog(path, include_text=True), tags={"app": "rag"})
    try:
        MockLLM(max_tokens=5).complete("What is the capital of France?")
    finally:
        lit.disable()
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert line["prompt"] == "What is the capital of France?" and line["tags"] == {"app": "rag"}
    assert line["source"] == "llama_index" and line["usage_estimated"] is True
    (call,) = load_workload(path).calls
    record = next(iter(handler.ledger.records()))
    assert (call.usage.input_tokens, call.usage.output_tokens) == (
        record.input_tokens,
        record.output_tokens,
    )
