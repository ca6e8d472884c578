from tokenomy.output import (
    CONTINUE_PROMPT,
    continuation_messages,
    join_parts,
    resume_point,
)
from tokenomy.output.continuation import starts_over


def test_join_drops_the_repeated_seam_once():
    assert join_parts("Step one is to boil the water.", "boil the water. Then add tea.") == (
        "Step one is to boil the water. Then add tea."
    )


def test_join_spacing():
    assert join_parts("It is", "raining.") == "It is raining."
    assert join_parts("Done.", "Next part.") == "Done. Next part."
    assert join_parts("List:", "1. first") == "List:\n1. first"
    assert join_parts("a ", "b") == "a b"
    assert join_parts("", "b") == "b" and join_parts("a", "") == "a"


def test_resume_point_drops_a_dangling_half_sentence_only():
    assert resume_point("The first sentence is here and long. Second sen") == (
        "The first sentence is here and long."
    )
    assert resume_point("no boundary at all in this long run of words wit") == (
        "no boundary at all in this long run of words"
    )
    assert resume_point("abc") == "abc"


def test_continuation_messages_append_the_partial_and_the_ask():
    messages = ({"role": "user", "content": "Write a poem."},)
    out = continuation_messages(messages, "Roses are")
    assert out[-2] == {"role": "assistant", "content": "Roses are"}
    assert out[-1] == {"role": "user", "content": CONTINUE_PROMPT}
    assert messages == ({"role": "user", "content": "Write a poem."},)


def test_join_drops_a_restated_seam_found_further_in():
    first = "Here is a function that makes numbers:\n```python\nimport"
    more = "Sure! Here is a function that makes numbers:\n```python\nimport numpy as np"
    assert join_parts(first, more) == first + " numpy as np"


def test_join_keeps_a_later_repeat_that_is_no_restatement():
    # the tail comes back only after new text of its own: not a restatement of the seam
    first = "Say the line: we will meet again"
    more = "tomorrow. " * 10 + "Say the line: we will meet again"
    assert join_parts(first, more) == first + " " + more


def test_starts_over():
    first = "To disable change data capture on the server, run the command below. Then restart"
    assert starts_over(first, "To disable change data capture on the server, run another command.")
    assert not starts_over(first, "the service and check the logs.")
    # a restart that reaches the seam is joined there, not treated as starting over
    assert not starts_over(first, first + " the service.")
