import json

import pytest

from tokenomy.errors import ConfigError, UnknownNameError
from tokenomy.output import (
    JsonComplete,
    LengthBudget,
    OutputControl,
    RepetitionLoop,
    StopPatterns,
    StreamMonitor,
    Validator,
)


def words(text: str) -> int:
    return len(text.split())


def pieces(text: str) -> list[str]:
    out = text.split(" ")
    return [w + " " for w in out[:-1]] + [out[-1]]


def run(monitor: StreamMonitor, text: str) -> int:
    """Feed ``text`` word by word; how many pieces were fed before the stop."""
    for n, piece in enumerate(pieces(text), 1):
        if monitor.feed(piece) is not None:
            return n
    return -1


PROSE = (
    "Tea is brewed by pouring hot water over leaves. Green tea wants water below boiling, "
    "while black tea takes it at a full boil. Steep for two to five minutes, then remove "
    "the leaves so the cup does not turn bitter. Milk and sugar are matters of taste."
)


def test_a_loop_is_stopped_soon_after_it_starts_and_kept_before_it():
    unit = "I am sorry, but I cannot help with that request right now. "
    text = "Sure. " + unit * 12
    monitor = StreamMonitor([RepetitionLoop()], count=words)
    fed = run(monitor, text)
    result = monitor.result()
    assert result.stopped_by == "loop"
    loop_start = len(("Sure. " + unit).split())
    assert fed - loop_start <= 45  # words after the loop began
    assert result.kept == ("Sure. " + unit).strip()


def test_numbered_list_loops_count_as_loops():
    text = "Ideas:\n" + "".join(f"{i}. Go to the park and play.\n" for i in range(1, 30))
    monitor = StreamMonitor([RepetitionLoop()], count=words)
    assert run(monitor, text) > 0


def test_a_passage_repeated_once_for_less_than_the_span_is_not_a_loop():
    # PROSE is 54 units; its second copy diverges after 45 (the former span of 40
    # stopped this; 48 are needed now)
    second = PROSE.split(". Milk")[0] + " and serve it at once with a biscuit."
    monitor = StreamMonitor([RepetitionLoop()], count=words)
    assert run(monitor, PROSE + " " + second + " Enjoy it.") == -1
    # the same passage going round again is stopped
    monitor = StreamMonitor([RepetitionLoop()], count=words)
    assert run(monitor, (PROSE + " ") * 3) > 0


def test_ordinary_prose_is_not_a_loop():
    monitor = StreamMonitor([RepetitionLoop()], count=words)
    assert run(monitor, PROSE) == -1 and monitor.result().stopped_by is None


def test_json_answers_stop_when_the_object_closes():
    obj = {"name": "Ada", "tags": ["a}", "b]"], "n": 1}
    text = json.dumps(obj) + " I hope this helps! Let me know if you need more."
    monitor = StreamMonitor([JsonComplete()], count=words, cap=100)
    run(monitor, text)
    result = monitor.result()
    assert result.stopped_by == "json"
    assert json.loads(result.kept) == obj
    assert result.saved_tokens == 100 - result.generated_tokens > 0


def test_fenced_json_waits_for_the_fence():
    text = '```json\n{"a": 1}\n```\nThat is the object.'
    monitor = StreamMonitor([JsonComplete()], count=words)
    for ch in text:
        if monitor.feed(ch):
            break
    assert monitor.result().kept == '```json\n{"a": 1}\n```'


def test_prose_is_not_json():
    monitor = StreamMonitor([JsonComplete()], count=words)
    assert run(monitor, PROSE) == -1


def test_stop_patterns_keep_the_text_before_the_match():
    monitor = StreamMonitor([StopPatterns([r"\n\nUser:"])], count=words)
    run(monitor, "Four.\n\nUser: and five?")
    assert monitor.result().kept == "Four."


def test_a_length_budget_stops_at_a_boundary_never_longer():
    monitor = StreamMonitor([LengthBudget(20, count=words)], count=words)
    run(monitor, PROSE)
    result = monitor.result()
    assert result.stopped_by == "budget"
    assert words(result.kept) <= 20 and result.kept.endswith(".")


def test_a_validator_stops_when_it_accepts():
    monitor = StreamMonitor([Validator(lambda t: "boil." in t)], count=words)
    run(monitor, PROSE)
    assert monitor.result().kept.endswith("full boil.")


def test_the_first_criterion_wins_and_the_stop_sticks():
    monitor = StreamMonitor([StopPatterns(["b"]), StopPatterns(["a"])], count=words)
    stop = monitor.feed("ab")
    assert stop is not None and stop.keep_chars == 1
    assert monitor.feed("more") is stop and monitor.text == "ab"


def test_criteria_are_fresh_per_monitor():
    loop = RepetitionLoop(span=8)
    text = "one two three " * 10
    first, second = StreamMonitor([loop], count=words), StreamMonitor([loop], count=words)
    assert run(first, text) > 0
    assert run(second, "fresh start. " + text) > 0  # no state carried over


def test_output_control_builds_monitors_and_validates():
    control = OutputControl(stop_on=("loop", "json", "budget"))
    monitor = control.monitor(cap=50, count=words)
    assert [c.name for c in monitor.criteria] == ["loop", "json", "budget"]
    assert OutputControl(stop_on=()).monitor(cap=None, count=words) is None
    assert OutputControl(stop_on=("budget",)).monitor(cap=None, count=words) is None  # no cap
    with pytest.raises(UnknownNameError, match="valid: loop, json"):
        OutputControl(stop_on=("loops",))
    with pytest.raises(ConfigError, match="stop_patterns"):
        OutputControl(stop_on=("stop",))
    with pytest.raises(ConfigError, match="continue_max"):
        OutputControl(continue_max=-1)
    with pytest.raises(ConfigError, match="cut_at"):
        OutputControl(cut_at="word")
