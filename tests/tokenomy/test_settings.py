"""Settings is the single source of defaults: each field's default is the component's
own named constant, so a component built without Settings and one built from default
Settings agree, and every compression setting is read by something."""

import inspect

import pytest

from tokenomy import Settings
from tokenomy.cache import DiskTier, MemoryTier
from tokenomy.compress import (
    DEFAULT_MIN_TOKENS,
    DEFAULT_RATIO,
    ExtractiveCompressor,
    MessageCompression,
)
from tokenomy.context import ConversationWindow
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.monitor import SQLiteLedger, UsageRecord
from tokenomy.output import OutputControl, OutputPlanner
from tokenomy.route import Router
from tokenomy.select import ExampleCompression, ExampleSelector


def _default(component: object, argument: str) -> object:
    return inspect.signature(component).parameters[argument].default  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "component", "argument"),
    [
        ("cache.max_bytes", MemoryTier, "max_bytes"),
        ("cache.disk_max_bytes", DiskTier, "max_bytes"),
        ("compression.granularity", ExtractiveCompressor, "granularity"),
        ("compression.redundancy", ExtractiveCompressor, "redundancy"),
        ("compression.embed_documents", ExtractiveCompressor, "embed_documents"),
        ("compression.ratio", MessageCompression, "ratio"),
        ("compression.min_tokens", MessageCompression, "min_tokens"),
        ("compression.min_retention", MessageCompression, "min_retention"),
        ("context.window_tokens", ConversationWindow, "max_tokens"),
        ("context.overlap_tokens", ConversationWindow, "overlap_tokens"),
        ("context.decay", ConversationWindow, "decay"),
        ("context.half_life_turns", ConversationWindow, "half_life_turns"),
        ("context.session_budget", ConversationWindow, "session_budget"),
        ("select.strategy", ExampleSelector, "strategy"),
        ("select.max_tokens", ExampleSelector, "max_tokens"),
        ("select.max_examples", ExampleSelector, "max_examples"),
        ("select.lexical_weight", ExampleSelector, "lexical_weight"),
        ("select.compress_ratio", ExampleCompression, "ratio"),
        ("select.compress_min_tokens", ExampleCompression, "min_tokens"),
        ("route.quality_target", Router, "quality_target"),
        ("route.tolerance", Router, "tolerance"),
        ("route.expected_output_tokens", Router, "expected_output_tokens"),
        ("output.max_tokens", OutputControl, "max_tokens"),
        ("output.cut_at", OutputControl, "cut_at"),
        ("output.continue_max", OutputControl, "continue_max"),
        ("output.stop_on", OutputControl, "stop_on"),
        ("output.quantile", OutputPlanner, "quantile"),
    ],
)
def test_a_default_setting_equals_the_component_default(setting, component, argument):
    group, field = setting.split(".")
    assert getattr(getattr(Settings(), group), field) == _default(component, argument)


def test_compression_defaults_are_the_named_constants():
    c = Settings().compression
    assert (c.ratio, c.min_tokens) == (DEFAULT_RATIO, DEFAULT_MIN_TOKENS) == (0.4, 800)


def test_message_compression_reads_ratio_min_tokens_and_min_retention(monkeypatch):
    monkeypatch.setenv("TOKENOMY_COMPRESSION__RATIO", "0.25")
    monkeypatch.setenv("TOKENOMY_COMPRESSION__MIN_TOKENS", "300")
    monkeypatch.setenv("TOKENOMY_COMPRESSION__MIN_RETENTION", "0.9")
    options = Settings.from_env().message_compression()
    assert options == MessageCompression(ratio=0.25, min_tokens=300, min_retention=0.9)


def test_default_message_compression_is_the_components_default(monkeypatch):
    for name in ("RATIO", "MIN_TOKENS", "MIN_RETENTION"):
        monkeypatch.delenv(f"TOKENOMY_COMPRESSION__{name}", raising=False)
    assert Settings().message_compression() == MessageCompression()


def test_message_compression_validates_at_construction():
    for bad in ({"ratio": 0}, {"ratio": 1.5}, {"min_tokens": 0}, {"min_retention": 2.0}):
        with pytest.raises(ConfigError):
            MessageCompression(**bad)


def test_message_compression_leaves_short_messages_and_compresses_long_ones():
    compressor = ExtractiveCompressor(embedder=HashingEmbedder())
    context = " ".join(f"Fact number {i} is about topic {i % 7}." for i in range(80))
    text = f"{context}\n\nWhat is fact number 3 about?"
    tokens = compressor.counter.count(text)
    assert MessageCompression(min_tokens=tokens + 1).compress(compressor, text) is None
    result = MessageCompression(ratio=0.3, min_tokens=tokens).compress(compressor, text)
    assert result is not None
    assert result.compressed_tokens <= 0.3 * tokens + 1
    assert result.text.endswith("What is fact number 3 about?")  # the question is kept


def test_ratio_and_min_retention_reach_the_compressor():
    seen = []

    class Spy(ExtractiveCompressor):
        def compress(self, context, **kwargs):
            seen.append(kwargs)
            return super().compress(context, **kwargs)

    text = " ".join(f"Fact number {i} is about topic {i % 7}." for i in range(80)) + "\n\nWhy?"
    options = MessageCompression(ratio=0.2, min_tokens=1, min_retention=0.9)
    assert options.compress(Spy(embedder=HashingEmbedder()), text) is not None
    assert (seen[0]["ratio"], seen[0]["min_retention"]) == (0.2, 0.9)


def test_output_settings_build_an_output_control_that_learns_from_the_ledger(monkeypatch, tmp_path):
    path = tmp_path / "usage.db"
    ledger = SQLiteLedger(path)
    ledger.record_many(UsageRecord("gpt-4o", 5, n, tags={"feature": "faq"}) for n in range(1, 41))
    ledger.close()
    monkeypatch.setenv("TOKENOMY_MONITOR__LEDGER_PATH", str(path))
    monkeypatch.setenv("TOKENOMY_OUTPUT__CONTINUE_MAX", "2")
    monkeypatch.setenv("TOKENOMY_OUTPUT__STOP_ON", '["loop"]')
    monkeypatch.setenv("TOKENOMY_OUTPUT__QUANTILE", "0.5")
    control = Settings.from_env().output_control()
    assert (control.continue_max, control.stop_on, control.cut_at) == (2, ("loop",), "sentence")
    assert control.planner is not None and control.planner.cap_for(feature="faq") == 25
    with pytest.raises(ConfigError, match="valid: loop"):
        Settings(output={"stop_on": ["loops"]}).output_control()


def test_select_settings_build_a_selector_that_compresses_the_named_fields(monkeypatch):
    monkeypatch.setenv("TOKENOMY_SELECT__COMPRESS_FIELDS", '["context"]')
    monkeypatch.setenv("TOKENOMY_SELECT__COMPRESS_RATIO", "0.3")
    selector = Settings.from_env().example_selector(embedder=HashingEmbedder())
    assert selector.compress is not None
    assert (list(selector.compress.fields), selector.compress.ratio) == (["context"], 0.3)
    monkeypatch.delenv("TOKENOMY_SELECT__COMPRESS_FIELDS")
    assert Settings.from_env().example_selector(embedder=HashingEmbedder()).compress is None
