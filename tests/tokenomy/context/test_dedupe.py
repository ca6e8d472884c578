from tokenomy.context.dedupe import REPEATED_MARKER, drop_repeated_passages

DOC = "The Eiffel Tower was finished in March 1889 for the World's Fair in Paris. " * 4


def test_later_repeats_become_a_pointer_and_the_first_stays():
    texts = [f"{DOC}\n\nWhen?", None, "short", f"Context:\n\n{DOC}\n\nHow tall?", DOC.upper()]
    out = drop_repeated_passages(texts, min_tokens=20)
    assert out[0] is None and out[1] is None and out[2] is None
    assert out[3] == f"Context:\n\n{REPEATED_MARKER}\n\nHow tall?"
    assert out[4] == REPEATED_MARKER  # case and whitespace do not hide a repeat


def test_short_paragraphs_are_never_replaced():
    assert drop_repeated_passages(["yes", "yes", "ok\n\nyes"]) == [None, None, None]


def test_inputs_untouched():
    texts = [DOC, DOC]
    drop_repeated_passages(texts, min_tokens=20)
    assert texts == [DOC, DOC]
