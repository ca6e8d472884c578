from tokenomy.text import cut_to_tokens, longest_prefix
from tokenomy.tokens import TokenCounter


def test_longest_prefix_finds_the_last_n_that_fits():
    assert longest_prefix(10, lambda n: n <= 7) == 7
    assert longest_prefix(10, lambda n: n <= 0) == 0
    assert longest_prefix(10, lambda n: True) == 10


def test_cut_to_tokens_ends_at_a_word_and_fits():
    counter = TokenCounter("gpt-4o")
    text = "one two three four five six seven eight nine ten"
    assert cut_to_tokens(text, 100, counter) == text
    cut = cut_to_tokens(text, 4, counter)
    assert text.startswith(cut) and counter.count(cut) <= 4
    longer = " ".join(text.split(" ")[: len(cut.split(" ")) + 1])
    assert counter.count(longer) > 4
