import re

import pytest

from tokenomy.text import abbreviate
from tokenomy.tokens import TokenCounter

REPORT = (
    "The Department of Homeland Security published its review. "
    "Officials at the Department of Homeland Security said the European Central Bank "
    "and the Department of Homeland Security met twice. The European Central Bank agreed. "
    "Later the European Central Bank and the Department of Homeland Security issued a note, "
    "and the European Central Bank confirmed it."
)


def expand(text, glossary):
    body = text.split("\n\n", 1)[1]
    for short, phrase in glossary.items():
        body = re.sub(rf"\b{short}\b", phrase, body)
    return body


def test_glossary_is_lossless_stated_once_and_confirmed_by_the_tokenizer():
    result = abbreviate(REPORT)
    assert result.glossary  # something saved
    assert result.text.startswith("Glossary: ") and result.text.count("Glossary: ") == 1
    assert expand(result.text, result.glossary) == REPORT  # nothing lost
    counter = TokenCounter()
    assert result.tokens == counter.count(result.text) < counter.count(REPORT)
    assert result.saved_tokens == result.original_tokens - result.tokens > 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "The Quarterly Report is late. " * 5,  # BPE spells it cheaper than an acronym
        "no repeats at all in this sentence, none whatsoever",
    ],
)
def test_unchanged_when_nothing_saves(text):
    result = abbreviate(text)
    assert result.text == text and result.glossary == {} and result.saved_tokens == 0


def test_existing_acronyms_and_sentence_breaks_are_respected():
    text = "DHS staff met. " + REPORT
    result = abbreviate(text)
    assert "DHS" not in result.glossary  # the short form already means something here
    assert all("." not in phrase for phrase in result.glossary.values())


def test_max_terms_and_min_count():
    assert len(abbreviate(REPORT, max_terms=1).glossary) <= 1
    assert abbreviate(REPORT, min_count=10).glossary == {}
