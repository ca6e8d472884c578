import pytest

from tokenomy.errors import ConfigError
from tokenomy.text import (
    collapse_whitespace,
    compact_table,
    minify_json,
    remove_boilerplate,
    segment_documents,
    split_sentences,
)


def test_sentences_keep_abbreviations_initials_and_decimals():
    text = "Dr. Smith moved to Washington D.C. in 1999. He paid $3.50! Was it U.S. made? J. R. R. Tolkien wrote it."
    assert split_sentences(text) == [
        "Dr. Smith moved to Washington D.C. in 1999.",
        "He paid $3.50!",
        "Was it U.S. made?",
        "J. R. R. Tolkien wrote it.",
    ]


def test_code_json_tables_and_list_items_are_atomic():
    doc = (
        "Intro. More text here.\n\n- one\n- two\n  continued\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        '\n\n```python\nx = 1. \ny = 2\n```\n\n{"k": [1, 2]}'
    )
    kinds = [(s.kind, s.text) for s in segment_documents([doc])]
    assert kinds == [
        ("sentence", "Intro."),
        ("sentence", "More text here."),
        ("list_item", "- one"),
        ("list_item", "- two continued"),
        ("table", "| a | b |\n|---|---|\n| 1 | 2 |"),
        ("code", "```python\nx = 1. \ny = 2\n```"),
        ("json", '{"k": [1, 2]}'),
    ]


def test_granularities():
    docs = ["A. B.\n\nC.", "D."]
    assert [s.text for s in segment_documents(docs, granularity="paragraph")] == [
        "A. B.",
        "C.",
        "D.",
    ]
    assert [s.kind for s in segment_documents(docs, granularity="document")] == [
        "document",
        "document",
    ]
    with pytest.raises(ConfigError, match="granularity"):
        segment_documents(docs, granularity="word")  # type: ignore[arg-type]


def test_lossless_reencodings():
    assert collapse_whitespace("a   b\t c  \n\n\n\nd ") == "a b c\n\nd"
    assert minify_json('{ "a": [1, 2],\n  "b": "x" }') == '{"a":[1,2],"b":"x"}'
    assert minify_json("not json {") == "not json {"
    assert compact_table("| a   | b |\n|-----|---|\n| 1   | 2 |") == "a|b\n1|2"
    footer = "Copyright 2026 Acme Corporation. All rights reserved worldwide."
    assert remove_boilerplate([f"one\n{footer}", f"two\n{footer}"]) == [f"one\n{footer}", "two"]
