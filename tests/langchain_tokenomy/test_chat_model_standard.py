"""langchain-tests' standard chat-model unit suite against OptimizedChatModel and RoutingChatModel."""

from typing import Any

import pytest
from pydantic import model_validator

pytest.importorskip("langchain_tests")

from langchain_core.language_models import GenericFakeChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_tokenomy import OptimizedChatModel, RoutingChatModel
from tokenomy.cache import SemanticCache
from tokenomy.route import ModelSpec, ModelTable, Router


class _Inner(GenericFakeChatModel):
    """A fake with the standard model-name field, so ls_model_name is reported."""

    model: str = "fake-model"


def _fake(data: dict) -> _Inner:
    """A fake inner model named by the suite's standard ``model`` param; the other
    standard params (temperature, limits…) mean nothing to a fake and are dropped."""
    for key in (
        "temperature",
        "max_tokens",
        "timeout",
        "stop",
        "max_retries",
        "api_key",
        "streaming",
    ):
        data.pop(key, None)
    return _Inner(model=data.get("model", "fake-model"), messages=iter(["hi"] * 100))


class _Wrapped(OptimizedChatModel):
    """OptimizedChatModel built from the suite's standard params (model name, limits)."""

    @model_validator(mode="before")
    @classmethod
    def _standard(cls, data: Any) -> Any:
        data = dict(data)
        data.setdefault("inner", _fake(data))
        data.pop("model", None)
        data.setdefault("cache", SemanticCache(mode="exact"))
        return data


class _FakeBackedSuite(ChatModelUnitTests):
    """The standard suite for a wrapper over fakes (which cannot call tools)."""

    @property
    def chat_model_params(self) -> dict:
        return {}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False


class TestOptimizedChatModelStandard(_FakeBackedSuite):
    @property
    def chat_model_class(self):
        return _Wrapped


class _Routed(RoutingChatModel):
    """RoutingChatModel over two fakes, built from the suite's standard params."""

    @model_validator(mode="before")
    @classmethod
    def _standard(cls, data: Any) -> Any:
        data = dict(data)
        data.setdefault("models", {"small": _fake(data), "large": _fake(data)})
        data.pop("model", None)
        table = ModelTable([ModelSpec("small", 0.1, 0.4), ModelSpec("large", 2.5, 10)])
        data.setdefault("router", Router(table))
        return data


class TestRoutingChatModelStandard(_FakeBackedSuite):
    @property
    def chat_model_class(self):
        return _Routed
