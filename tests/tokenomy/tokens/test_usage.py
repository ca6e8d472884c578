from types import SimpleNamespace

import pytest

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
    assert parse_usage(raw) == TokenUsage(1220, 5, 1000, 0, cache_write_tokens=200)


def test_anthropic_cache_writes_are_billed_at_their_premium():
    from tokenomy.tokens import PriceTable

    price = PriceTable.default().get("claude-sonnet-4")  # $3 in, $0.30 cached, $15 out
    raw = {
        "input_tokens": 100,
        "output_tokens": 10,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 3000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 1000},
    }
    usage = parse_usage(raw)
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (2000, 1000)
    cost = price.cost(usage)
    # 100 plain at $3, 2,000 at 1.25 x $3, 1,000 at 2 x $3, 1,000 read at $0.30, 10 out at $15
    assert cost.total_usd == pytest.approx((300 + 7500 + 6000 + 300 + 150) / 1e6)


def test_langchain_usage_metadata_carries_cache_writes():
    raw = {
        "input_tokens": 3000,
        "output_tokens": 10,
        "input_token_details": {"cache_read": 1000, "cache_creation": 1500},
    }
    assert parse_usage(raw) == TokenUsage(3000, 10, 1000, 0, cache_write_tokens=1500)


def test_gemini_rest_and_vertex_usage():
    raw = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 20,
    }
    assert parse_usage(raw) == TokenUsage(12, 8, 4, 3)


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
