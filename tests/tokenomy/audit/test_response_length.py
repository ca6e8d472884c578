"""The response-length column: loops, JSON tails and caps, measured on the answers."""

import json

from tokenomy.audit import load_workload
from tokenomy.audit.core import _price_call
from tokenomy.audit.plugins import AuditContext
from tokenomy.audit.response_length import ResponseLengthPlugin
from tokenomy.tokens import PriceTable, TokenCounter

LOOP = "Sure. " + "Repeat after me: the cat sat on the mat today. " * 30
JSON_TAIL = '{"ok": true, "items": [1, 2]}\nI hope this helps! Ask me anything else anytime.'


def context_of(tmp_path, responses, max_tokens=None):
    lines = [
        {
            "id": f"c{i}",
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "q"}],
            "response": text,
            "max_tokens": max_tokens,
            "tags": {"feature": "faq"},
        }
        for i, text in enumerate(responses)
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    prices = PriceTable.default()
    counter = TokenCounter("gpt-4o")
    return AuditContext(
        [_price_call(c, counter, prices) for c in load_workload(path).calls], prices
    )


def test_loops_and_json_tails_are_measured_on_the_answers(tmp_path):
    plain = ["Paris is the capital of France."] * 5
    context = context_of(tmp_path, [LOOP, JSON_TAIL, *plain])
    estimate = ResponseLengthPlugin().estimate(context)
    assert estimate.metrics["loops"] == 1 and estimate.metrics["json_trailing"] == 1
    counter = TokenCounter("gpt-4o")
    assert 0.8 * counter.count(LOOP) < estimate.metrics["loop_tokens"] < counter.count(LOOP)
    tail = JSON_TAIL[JSON_TAIL.index("}") + 1 :]
    assert estimate.metrics["json_trailing_tokens"] == counter.count(tail)
    assert estimate.calls_affected == 2  # too few calls for a cap group
    assert estimate.output_tokens_saved == estimate.metrics["loop_tokens"] + counter.count(tail)
    assert estimate.cost_saved_usd > 0
    assert any("loop" in f for f in estimate.findings)


def test_caps_far_above_use_are_named(tmp_path):
    context = context_of(tmp_path, [f"Answer {i}." for i in range(25)], max_tokens=2048)
    estimate = ResponseLengthPlugin().estimate(context)
    assert any("max_tokens is 2,048+" in f for f in estimate.findings)
    assert estimate.metrics["loops"] == 0


def _texts(seed: int, n: int) -> list[str]:
    """Answers with and without loops: short and long periods, digits that fold
    ("1." against "2."), upper case, and non-ASCII words whose lower case is longer."""
    import random

    rng = random.Random(seed)
    words = ["the", "The", "cat", "İstanbul", "ǅ", "1.", "22.", ",", ";", "and", "ß", "é"]
    out = []
    for _ in range(n):
        base = " ".join(rng.choice(words) for _ in range(rng.randint(0, 120)))
        span = " ".join(rng.choice(words) for _ in range(rng.randint(1, 70)))
        out.append(f"{base} {' '.join([span] * rng.randint(0, 6))} end{rng.randint(0, 9)}")
    return out


def test_the_loop_pretest_never_hides_a_loop_the_monitor_finds():
    from tokenomy.audit.response_length import _tail, may_loop
    from tokenomy.output import RepetitionLoop

    texts = [LOOP, JSON_TAIL, "Paris is the capital of France.", *_texts(0, 600)]
    found = skipped = 0
    for text in texts:
        loop = _tail(text, RepetitionLoop())
        if loop is not None:
            found += 1
            assert may_loop(text, RepetitionLoop()), text
        skipped += not may_loop(text, RepetitionLoop())
    assert found > 100 and skipped > 50  # both kinds are in the set, and it does skip
    assert not may_loop("Paris is the capital of France. " * 3, RepetitionLoop())
    short = RepetitionLoop(span=8, short_span=4)
    assert may_loop("a b c d e f a b c d", short) and not may_loop("a b c d", short)
