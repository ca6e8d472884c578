import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.output import boundaries, check_complete, cut_at_boundary

WORDS = st.sampled_from(["alpha", "beta", "e.g.", "3.14", "x", "Dr.", "ok", "`a. b`", "(see)"])
SENTENCE = st.builds(
    lambda ws, end: " ".join(ws).capitalize() + end,
    st.lists(WORDS, min_size=1, max_size=6),
    st.sampled_from([".", "!", "?", ""]),
)
CODE = st.builds(
    lambda lines: "```py\n" + "\n".join(lines) + "\n```",
    st.lists(
        st.sampled_from(["x = 1.", "# Done. Next", "", "y = {'a': [1, 2]}", "A. B"]), max_size=4
    ),
)
JSON = st.builds(
    lambda d: json.dumps(d, indent=1),
    st.dictionaries(
        st.sampled_from(["k", "text", "n"]),
        st.one_of(st.integers(), st.sampled_from(["Stop. Here", "a.\n\nb", "} ]", '"q"'])),
        min_size=1,
    ),
)
LIST = st.builds(
    lambda items: "\n".join(f"- {i}" for i in items), st.lists(SENTENCE, min_size=1, max_size=3)
)
BLOCK = st.one_of(
    SENTENCE, CODE, JSON, LIST, st.lists(SENTENCE, min_size=2, max_size=4).map(" ".join)
)
DOC = st.lists(BLOCK, min_size=1, max_size=6).map("\n\n".join)


def words(text: str) -> int:
    return len(text.split())


def spans(text: str, pattern: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(pattern, text, re.S | re.M)]


def inside(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a < pos < b for a, b in ranges)


@settings(max_examples=300, deadline=None)
@given(DOC, st.integers(min_value=0, max_value=60))
def test_a_cut_is_a_prefix_no_longer_than_asked_and_never_inside_a_fence_or_json(doc, limit):
    cut = cut_at_boundary(doc, limit, count=words)
    assert doc.startswith(cut.text)
    assert words(cut.text) <= limit
    assert cut.tokens == words(cut.text)
    fences = spans(doc, r"^```py\n.*?^```$")
    objects = [
        (m.start(), m.start() + len(m.group(0)))
        for m in re.finditer(r"^\{\n.*?^\}", doc, re.S | re.M)
    ]
    end = len(cut.text)
    assert not inside(end, fences), (doc, cut.text)
    assert not inside(end, objects), (doc, cut.text)
    assert cut.text.count("```") % 2 == 0


@settings(max_examples=200, deadline=None)
@given(DOC)
def test_every_boundary_is_outside_code_and_json(doc):
    fences = spans(doc, r"^```py\n.*?^```$")
    objects = spans(doc, r"^\{\n.*?^\}")
    for at, _ in boundaries(doc):
        assert not inside(at, fences) and not inside(at, objects)


def test_cuts_at_the_last_sentence_that_fits():
    text = "First point. Second point here. Third."
    assert cut_at_boundary(text, 5, count=words).text == "First point. Second point here."
    assert cut_at_boundary(text, 4, count=words).text == "First point."
    assert cut_at_boundary(text, 1, count=words).text == ""  # nothing whole fits
    assert cut_at_boundary(text, 99, count=words).kind == "end"


def test_paragraph_granularity_keeps_whole_paragraphs():
    text = "One. Two.\n\nThree. Four."
    assert cut_at_boundary(text, 3, count=words, cut_at="paragraph").text == "One. Two."
    assert cut_at_boundary(text, 3, count=words, cut_at="sentence").text == "One. Two.\n\nThree."
    assert cut_at_boundary(text, 1, count=words, cut_at="paragraph").text == ""


def test_a_code_block_is_kept_whole_or_not_at_all():
    text = "Here:\n```py\na = 1. b = 2\nc = 3\n```\nDone."
    assert cut_at_boundary(text, 6, count=words).text == "Here:"
    assert cut_at_boundary(text, 11, count=words).text == "Here:"  # the block is 11 words
    assert cut_at_boundary(text, 12, count=words).text.endswith("c = 3\n```")


def test_list_items_are_boundaries():
    text = "Steps:\n- boil water\n- add tea\n- wait"
    assert cut_at_boundary(text, 7, count=words).text == "Steps:\n- boil water\n- add tea"


def test_abbreviations_and_inline_code_are_not_sentence_ends():
    assert [k for _, k in boundaries("See e.g. Smith now. Then `a. B` ok. X")] == [
        "sentence",
        "sentence",
    ]


def test_completeness_names_what_is_missing():
    assert check_complete("```py\nx = 1").issues == ("unclosed code fence",)
    assert check_complete('{"a": "b').issues == ("unbalanced JSON",)
    assert check_complete("It was the best of").issues == ("cut mid-sentence",)
    assert check_complete("Done.\n\n- item one\n- item two").complete
    assert check_complete('{"a": 1}').complete
