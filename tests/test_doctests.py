"""Run the docstring examples of the public modules (diskcache's test_doctest idea)."""

import doctest
import importlib

import pytest

MODULES = [
    "tokenomy.tokens.counter",
    "tokenomy.tokens.prices",
    "tokenomy.monitor.ledger",
    "tokenomy.monitor.sqlite",
    "tokenomy.settings",
    "tokenomy.context.window",
    "tokenomy.text.glossary",
    "tokenomy.text.messages",
    "tokenomy.select.selector",
    "tokenomy.select.compress",
    "tokenomy.route.router",
    "tokenomy.route.models",
    "tokenomy.route.features",
    "langchain_tokenomy.example_selector",
    "llama_index_tokenomy.few_shot",
    "tokenomy.context.summarize",
    "tokenomy.compress.message",
    "tokenomy.compress.extractive",
    "tokenomy.errors",
    "tokenomy._failures",
    "langchain_tokenomy.callbacks",
    "tokenomy.pipeline.pipeline",
    "tokenomy.pipeline.guard",
    "tokenomy.serve.responses",
    "tokenomy.pipeline.request",
    "tokenomy.pipeline.codecs",
    "tokenomy.pipeline.context",
    "tokenomy.budget.spend",
    "tokenomy.budget.limits",
    "tokenomy.budget.alerts",
    "tokenomy.budget.anomaly",
    "tokenomy.budget.forecast",
    "tokenomy.budget.experiments",
    "tokenomy.monitor.calllog",
    "tokenomy.cache.singleflight",
    "langchain_tokenomy.chat_model",
    "langchain_tokenomy.routing",
    "langchain_tokenomy.cache",
    "tokenomy.telemetry.otel",
    "tokenomy.telemetry.prometheus",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
