import json

import pytest

SYSTEM = "You are the support assistant for Acme. " * 120  # ~1k tokens, repeated on every call


def call(i, q, *, model="gpt-4o", response="Sure, here is how.", ts=None, **extra):
    return {
        "id": f"c{i}",
        "timestamp": ts if ts is not None else 1_793_000_000 + 60 * i,
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
        "response": response,
        "tags": {"user": f"u{i % 3}", "feature": "support"},
        **extra,
    }


@pytest.fixture
def workload(tmp_path):
    lines = [
        call(
            i,
            "How do I reset my password?" if i % 2 else f"Question number {i}?",
            max_tokens=2048,
            response="word " * (10 + (i % 5) * 10),
        )
        for i in range(40)
    ]
    lines[3]["usage"] = {"prompt_tokens": 1234, "completion_tokens": 56}
    lines[5]["model"] = "mystery-model"
    path = tmp_path / "calls.jsonl"
    text = "\n".join(json.dumps(x) for x in lines)
    text += "\n{not json\n" + json.dumps({"model": "gpt-4o"}) + "\n\n"
    path.write_text(text)
    return path
