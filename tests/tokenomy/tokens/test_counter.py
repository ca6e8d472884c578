import gzip
import json
from pathlib import Path

import pytest
import tiktoken

from tokenomy.errors import ConfigError, TokenizerError, UnknownNameError
from tokenomy.tokens import (
    CallableTokenizer,
    TokenCounter,
    TokenizerRegistry,
    count_tokens,
    get_encoding,
)
from tokenomy.tokens.counter import FAMILY_FACTORS, family_of

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "workloads" / "sample.jsonl.gz"
BPE_CACHE = (
    Path(tiktoken.__file__).parents[1] / "llama_index" / "core" / "_static" / "tiktoken_cache"
)


def _eval_texts() -> list[str]:
    """Every message of the bundled sample workload (NaturalQuestions passages, MT-Bench
    conversations with GPT-4 and Mixtral answers, chats, few-shot prompts) plus edge cases."""
    texts = []
    with gzip.open(SAMPLE, "rt") as f:
        for line in f:
            call = json.loads(line)
            texts += [m["content"] for m in call["messages"]] + [call["response"]]
    texts += [
        "",
        " ",
        "hello world",
        "<|endoftext|> is text here",
        "naïve café 東京 🚀",
        "x" * 5000,
        "def f(x):\n    return x ** 2\n\n\n",
        "1234567890 " * 50,
    ]
    return list(dict.fromkeys(texts))


def _reference(name: str) -> tiktoken.Encoding:
    """tiktoken's own constructor fed from llama-index's copy of OpenAI's file."""
    import os

    from tiktoken_ext import openai_public

    old = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(BPE_CACHE)
    try:
        return tiktoken.Encoding(**getattr(openai_public, name)())
    finally:
        if old is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = old


@pytest.mark.parametrize(("name", "model"), [("o200k_base", "gpt-4o"), ("cl100k_base", "gpt-4")])
def test_counts_equal_tiktoken_reference_on_eval_texts(name, model):
    if not BPE_CACHE.exists():
        pytest.skip("llama-index-core's BPE copy is not installed")
    ref = _reference(name)
    counter = TokenCounter(model)
    for text in _eval_texts():
        assert counter.count(text) == len(ref.encode_ordinary(text)), text[:80]


def test_bundled_encoding_is_identical_to_openais():
    ours = get_encoding("o200k_base")
    assert ours.n_vocab == 200019
    assert ours.encode_ordinary("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]


def test_unknown_encoding_names_the_bundled_ones():
    with pytest.raises(UnknownNameError, match="cl100k_base, o200k_base"):
        get_encoding("p50k_base")


@pytest.mark.parametrize(
    ("model", "tokenizer"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-5-nano", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("azure/gpt-4.1-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-1106-preview", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("ft:gpt-4o-mini:org::abc", "o200k_base"),
    ],
)
def test_openai_models_are_exact(model, tokenizer):
    result = count_tokens("hello world", model=model)
    assert result.exact
    assert result.tokenizer == tokenizer


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-20250514", "claude"),
        ("gemini-2.5-flash", "gemini"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama"),
        ("mixtral-8x7b-instruct-v0.1", "mistral-sp"),
        ("mistral-large-latest", "mistral"),
        ("deepseek-chat", "deepseek"),
        ("qwen3-32b", "qwen"),
        ("some-new-model", "generic"),
    ],
)
def test_other_families_are_estimated_and_say_so(model, family):
    assert family_of(model) == family
    text = "The quick brown fox jumps over the lazy dog. " * 20
    result = count_tokens(text, model=model)
    assert not result.exact
    base = len(get_encoding("o200k_base").encode_ordinary(text))
    assert result.tokens == pytest.approx(base * FAMILY_FACTORS[family], abs=1)


@pytest.mark.parametrize("model", ["gpt-4o", "claude-3-5-haiku", "unknown-model-x", None])
def test_count_is_never_zero_for_non_empty_text(model):
    for text in ["a", " ", "\n", "🚀", "x"]:
        assert count_tokens(text, model=model).tokens >= 1
    assert count_tokens("", model=model).tokens == 0


def test_no_model_means_estimate():
    assert not count_tokens("hello", model=None).exact


def test_chat_formula_follows_openai_cookbook():
    enc = get_encoding("o200k_base")
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "name": "example_user",
            "content": "New synergies will help drive top-line growth.",
        },
        {"role": "assistant", "content": "Things working well together will increase revenue."},
    ]
    expected = 3  # reply priming
    for m in messages:
        expected += 3 + sum(len(enc.encode_ordinary(v)) for v in m.values())
        expected += 1 if "name" in m else 0
    result = count_tokens(messages, model="gpt-4o")
    assert result.tokens == expected
    assert result.exact


def test_gpt_35_0301_uses_its_own_framing():
    msgs = [{"role": "user", "name": "bob", "content": "hi"}]
    enc = get_encoding("cl100k_base")
    body = sum(len(enc.encode_ordinary(v)) for v in msgs[0].values())
    assert count_tokens(msgs, model="gpt-3.5-turbo-0301").tokens == 4 + body - 1 + 3


WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location.",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]


@pytest.mark.parametrize(
    ("model", "encoding", "func_init"), [("gpt-4o", "o200k_base", 7), ("gpt-4", "cl100k_base", 10)]
)
def test_tools_follow_the_cookbook_formula(model, encoding, func_init):
    enc = get_encoding(encoding)
    n = lambda s: len(enc.encode_ordinary(s))  # noqa: E731
    expected = func_init + n("get_current_weather:Get the current weather in a given location")
    expected += 3  # properties start
    expected += 3 + n("location:string:The city and state, e.g. San Francisco, CA")
    expected += 3 + (-3) + (3 + n("celsius")) + (3 + n("fahrenheit"))
    expected += n("unit:string:The unit of temperature to return")
    expected += 12  # end of functions
    counter = TokenCounter(model)
    assert counter.count_tools(WEATHER_TOOLS) == expected
    msgs = [{"role": "user", "content": "What's the weather like in San Francisco?"}]
    result = count_tokens(msgs, model=model, tools=WEATHER_TOOLS)
    assert result.tokens == counter.count_messages(msgs) + expected
    assert result.exact


def test_images_and_tool_calls_are_counted_but_marked_estimated():
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "result"},
    ]
    result = count_tokens(msgs, model="gpt-4o")
    assert not result.exact
    assert result.tokens > 765
    low = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "low"}}],
        }
    ]
    assert count_tokens(low, model="gpt-4o").exact


def test_messages_must_be_mappings():
    with pytest.raises(ConfigError, match="expected a mapping"):
        count_tokens(["hello"], model="gpt-4o")
    with pytest.raises(ConfigError, match="expects a str or a list"):
        count_tokens(42, model="gpt-4o")  # type: ignore[arg-type]


def test_inputs_are_not_mutated():
    msgs = [{"role": "user", "content": "hi", "name": "x"}]
    snapshot = json.dumps(msgs)
    count_tokens(msgs, model="gpt-4o")
    assert json.dumps(msgs) == snapshot


def test_registered_callable_wins_and_can_be_a_prefix():
    reg = TokenizerRegistry()
    reg.register("acme-", lambda s: s.split(), prefix=True)
    assert count_tokens("one two three", model="acme-large", registry=reg).tokens == 3
    assert count_tokens("one two three", model="acme-large", registry=reg).exact
    reg.register("acme-large", CallableTokenizer(len, name="chars", exact=False))
    result = count_tokens("one two three", model="acme-large", registry=reg)
    assert (result.tokens, result.exact) == (13, False)
    assert count_tokens("one two", model="gpt-4o", registry=reg).tokenizer == "o200k_base"


def test_huggingface_tokenizer_json(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    tok = tokenizers.Tokenizer(
        models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]")
    )
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    reg = TokenizerRegistry()
    reg.register("local-model", path)
    assert count_tokens("hello world again", model="local-model", registry=reg).tokens == 3


def test_bad_registrations_fail_clearly(tmp_path):
    reg = TokenizerRegistry()
    with pytest.raises(TokenizerError, match="does not exist"):
        reg.register("m", tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="Cannot use int"):
        reg.register("m", 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty"):
        reg.register("", len)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TokenizerError, match="Could not load"):
        reg.register("m", bad)


def test_negative_counts_from_a_callable_are_rejected():
    reg = TokenizerRegistry()
    reg.register("neg", lambda s: -1)
    with pytest.raises(TokenizerError, match="negative"):
        count_tokens("x", model="neg", registry=reg)
