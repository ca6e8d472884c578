import asyncio
import time

import pytest

from tokenomy.errors import AllModelsFailedError, ConfigError
from tokenomy.route import Cascade, FallbackChain, is_context_overflow


def answers(table):
    """A call that looks up what each model does: a value, or an exception to raise."""
    calls = []

    def call(model):
        calls.append(model)
        result = table[model]
        if isinstance(result, BaseException):
            raise result
        if callable(result):
            return result()
        return result

    return call, calls


def test_fallback_moves_on_after_errors_timeouts_and_overflow():
    call, calls = answers(
        {
            "a": RuntimeError("503 overloaded"),
            "b": ValueError("This model's maximum context length is 8192 tokens"),
            "c": lambda: time.sleep(1) or "late",
            "d": "ok from d",
        }
    )
    result = FallbackChain(["a", "b", "c", "d"], timeout_s=0.2).run(call)
    assert (result.answer, result.model) == ("ok from d", "d")
    assert [a.outcome for a in result.attempts] == ["error", "overflow", "timeout", "ok"]
    assert calls == ["a", "b", "c", "d"]


def test_all_failing_raises_with_every_attempt():
    call, _ = answers({"a": RuntimeError("down"), "b": RuntimeError("down too")})
    with pytest.raises(AllModelsFailedError, match="every model failed") as info:
        FallbackChain(["a", "b"]).run(call)
    assert [a.model for a in info.value.attempts] == ["a", "b"]


def test_attempts_are_bounded():
    call, calls = answers({m: RuntimeError("x") for m in "abcd"})
    with pytest.raises(AllModelsFailedError):
        FallbackChain(list("abcd"), max_attempts=2).run(call)
    assert calls == ["a", "b"]


def test_cascade_escalates_on_checks_and_accounts_both_costs():
    call, _ = answers({"cheap": "I'm sorry, I can't help with that.", "strong": "42"})
    cascade = Cascade(
        ["cheap", "strong"], cost=lambda model, answer: {"cheap": 0.001, "strong": 0.01}[model]
    )
    result = cascade.run(call)
    assert result.model == "strong" and result.escalated
    assert result.cost_usd == pytest.approx(0.011)
    assert result.attempts[0].detail == "refusal"
    bad_json = Cascade(["cheap", "strong"], check=lambda a: a.startswith("{"))
    call, _ = answers({"cheap": "not json", "strong": '{"a": 1}'})
    assert bad_json.run(call).model == "strong"
    empty = Cascade(["cheap", "strong"])
    call, _ = answers({"cheap": "  ", "strong": "x"})
    assert empty.run(call).attempts[0].detail == "empty answer"


def test_cascade_keeps_a_good_cheap_answer_and_the_last_answer_anyway():
    call, calls = answers({"cheap": "Paris", "strong": "Paris"})
    assert Cascade(["cheap", "strong"]).run(call).model == "cheap" and calls == ["cheap"]
    call, _ = answers({"cheap": "", "strong": ""})
    last = Cascade(["cheap", "strong"]).run(call)
    assert last.model == "strong" and "kept, last model" in last.attempts[-1].detail


def test_low_logprob_escalates():
    call, _ = answers({"cheap": ("guess", -2.5), "strong": ("sure", -0.1)})
    cascade = Cascade(
        ["cheap", "strong"], text=lambda a: a[0], logprob=lambda a: a[1], min_logprob=-1.0
    )
    result = cascade.run(call)
    assert result.model == "strong" and "logprob" in result.attempts[0].detail


async def test_async_chain_with_timeout():
    async def call(model):
        if model == "slow":
            await asyncio.sleep(1)
        return f"from {model}"

    result = await Cascade(["slow", "fast"], timeout_s=0.1).arun(call)
    assert result.answer == "from fast" and result.attempts[0].outcome == "timeout"


def test_config_errors_and_overflow_detection():
    with pytest.raises(ConfigError):
        FallbackChain([])
    with pytest.raises(ConfigError):
        FallbackChain(["a"], timeout_s=0)
    assert is_context_overflow(ValueError("prompt is too long: 200000 tokens > 100000 maximum"))
    assert not is_context_overflow(RuntimeError("rate limited"))


def test_streams_fall_back_only_before_the_first_item():
    from tokenomy.route import Attempt
    from tokenomy.route.cascade import astream_first, stream_first

    def start(model):
        if model == "a":
            raise ValueError("maximum context length exceeded")
        if model == "b":
            yield "half"
            raise RuntimeError("dropped mid-stream")
        yield from ("x", "y")

    attempts: list[Attempt] = []
    assert list(stream_first(["a", "c"], start, attempts)) == ["x", "y"]
    assert [(a.model, a.outcome) for a in attempts] == [("a", "overflow"), ("c", "ok")]
    with pytest.raises(RuntimeError, match="mid-stream"):
        list(stream_first(["b", "c"], start, []))
    with pytest.raises(AllModelsFailedError, match="every model failed"):
        list(stream_first(["a"], start, []))

    async def astart(model):
        if model == "a":
            raise RuntimeError("down")
        yield "z"

    async def collect():
        seen: list[Attempt] = []
        return [x async for x in astream_first(["a", "c"], astart, seen)], seen

    items, seen = asyncio.run(collect())
    assert items == ["z"] and [a.outcome for a in seen] == ["error", "ok"]
