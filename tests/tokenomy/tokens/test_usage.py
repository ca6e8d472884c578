from types import SimpleNamespace

from tokenomy.tokens import TokenUsage, parse_usage


def test_usage_adds_up():
    a = TokenUsage(10, 5, 2, 1)
    b = TokenUsage(1, 2, 3, 4)
    assert a + b == TokenUsage(11, 7, 5, 5)
    assert (a + b).total_tokens == 18


def test_openai_chat_completions_usage():
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 8},
    }
    assert parse_usage(raw) == TokenUsage(100, 20, 64, 8)


def test_openai_sdk_object_usage():
    raw = SimpleNamespace(
        prompt_tokens=7,
        completion_tokens=3,
        prompt_tokens_details=None,
        completion_tokens_details=None,
    )
    assert parse_usage(raw) == TokenUsage(7, 3)


def test_langchain_usage_metadata():
    raw = {
        "input_tokens": 50,
        "output_tokens": 10,
        "total_tokens": 60,
        "input_token_details": {"cache_read": 30},
        "output_token_details": {"reasoning": 4},
    }
    assert parse_usage(raw) == TokenUsage(50, 10, 30, 4)


def test_anthropic_raw_usage_adds_cache_reads_and_writes_to_input():
    raw = {
        "input_tokens": 20,
        "output_tokens": 5,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }
    assert parse_usage(raw) == TokenUsage(1220, 5, 1000, 0)


def test_gemini_usage():
    raw = {
        "prompt_token_count": 40,
        "candidates_token_count": 9,
        "thoughts_token_count": 3,
        "cached_content_token_count": 16,
    }
    assert parse_usage(raw) == TokenUsage(40, 12, 16, 3)


def test_unrecognised_usage_is_none_not_zero():
    assert parse_usage(None) is None
    assert parse_usage({"total_cost": 0}) is None
    assert parse_usage({"prompt_tokens": "many"}) == TokenUsage(0, 0)
