import pytest
from pydantic import ValidationError

from tokenomy import Settings


def test_context_and_compression_from_the_environment(monkeypatch):
    monkeypatch.setenv("TOKENOMY_CONTEXT__WINDOW_TOKENS", "2048")
    monkeypatch.setenv("TOKENOMY_CONTEXT__OVERLAP_TOKENS", "256")
    monkeypatch.setenv("TOKENOMY_CONTEXT__DECAY", "linear")
    monkeypatch.setenv("TOKENOMY_CONTEXT__SUMMARIZER", "none")
    monkeypatch.setenv("TOKENOMY_CONTEXT__SESSION_BUDGET", "100000")
    monkeypatch.setenv("TOKENOMY_COMPRESSION__GRANULARITY", "paragraph")
    monkeypatch.setenv("TOKENOMY_COMPRESSION__EMBED_DOCUMENTS", "true")
    monkeypatch.setenv("TOKENOMY_TOKENS__DEFAULT_MODEL", "gpt-4o-mini")
    settings = Settings.from_env()
    window = settings.window()
    assert (window.max_tokens, window.overlap_tokens, window.decay) == (2048, 256, "linear")
    assert window.summarizer is None and window.session_budget == 100_000
    compressor = settings.compressor()
    assert compressor.granularity == "paragraph" and compressor.model == "gpt-4o-mini"
    assert compressor.embed_documents
    assert settings.compression.ratio == 0.4


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("TOKENOMY_CONTEXT__DECAY", "cubic")
    with pytest.raises(ValidationError, match="decay"):
        Settings.from_env()
    with pytest.raises(ValidationError, match="ratio"):
        Settings(compression={"ratio": 0})


def test_select_settings_build_a_selector(monkeypatch):
    from tokenomy.embed import HashingEmbedder

    monkeypatch.setenv("TOKENOMY_SELECT__STRATEGY", "mmr")
    monkeypatch.setenv("TOKENOMY_SELECT__MAX_TOKENS", "120")
    selector = Settings.from_env().example_selector(
        [{"q": "a", "a": "b"}], embedder=HashingEmbedder()
    )
    assert (selector.strategy, selector.max_tokens, len(selector)) == ("mmr", 120, 1)


def test_route_settings_build_a_router(monkeypatch):
    monkeypatch.setenv("TOKENOMY_ROUTE__QUALITY_TARGET", "0.5")
    router = Settings.from_env().router()
    assert router.quality_target == 0.5 and len(router.models) == 9
