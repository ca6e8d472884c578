"""A framework call through FrontDoor: each path calls its own method of the routed
model with what the pipeline chose; a model that cannot stream is replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tokenomy.budget import SpendBudget
from tokenomy.cache import SemanticCache
from tokenomy.errors import ConfigError
from tokenomy.pipeline import (
    Finished,
    FrontDoor,
    Methods,
    Outbound,
    Pipeline,
    Request,
    Sent,
    TextCodec,
    answer_cap,
)
from tokenomy.route import ModelSpec, ModelTable, Router
from tokenomy.tokens import PriceTable

PATHS = ["run", "arun", "stream", "astream"]


class Model:
    """A framework model stand-in: each method logs its name and what it was sent."""

    def __init__(self, name: str, *, streams: bool = True, opens: bool = False) -> None:
        self.name = name
        self.streams = streams
        self.opens = opens  # astream is a coroutine opening its stream (LlamaIndex)
        self.log: list[tuple[str, str, dict[str, Any]]] = []

    def answer(self, text: str) -> str:
        return f"{self.name} says {text}"

    def say(self, text: str, **kwargs: Any) -> str:
        self.log.append(("say", text, kwargs))
        return self.answer(text)

    async def asay(self, text: str, **kwargs: Any) -> str:
        self.log.append(("asay", text, kwargs))
        return self.answer(text)

    def stream_say(self, text: str, **kwargs: Any) -> Iterator[str]:
        self.log.append(("stream_say", text, kwargs))
        yield from TextCodec().replay(self.answer(text))

    async def _chunks(self, text: str) -> AsyncIterator[str]:
        for chunk in TextCodec().replay(self.answer(text)):
            yield chunk

    def astream_say(self, text: str, **kwargs: Any) -> Any:
        self.log.append(("astream_say", text, kwargs))
        if self.opens:

            async def opening() -> AsyncIterator[str]:
                return self._chunks(text)

            return opening()
        return self._chunks(text)


METHODS: Methods[Model, str, str] = Methods(
    call=lambda m: m.say,
    acall=lambda m: m.asay,
    stream=lambda m: m.stream_say if m.streams else None,
    astream=lambda m: m.astream_say if m.streams else None,
)


def door(pipe: Pipeline[str, str], models: dict[str, Model], prompt: str, **kwargs: Any) -> Any:
    request = Request(prompt=prompt, max_tokens=answer_cap(kwargs.get("max_tokens")))

    def outbound(sent: Sent) -> Outbound:
        model = models[sent.model] if sent.model is not None else next(iter(models.values()))
        return Outbound(model, (sent.prompt or prompt,), sent.params(kwargs))

    return FrontDoor(pipe, request, TextCodec(), METHODS, outbound)


async def call(path: str, front: Any) -> str:
    if path == "run":
        return str(front.run())
    if path == "arun":
        return str(await front.arun())
    if path == "stream":
        return "".join(front.stream())
    return "".join([c async for c in front.astream()])


EXPECTED = {
    "run": "say",
    "arun": "asay",
    "stream": "stream_say",
    "astream": "astream_say",
}


@pytest.mark.parametrize("opens", [False, True])
@pytest.mark.parametrize("path", PATHS)
async def test_each_path_calls_its_own_method_with_the_callers_parameters(path, opens):
    model = Model("m", opens=opens)
    answer = await call(path, door(Pipeline(), {"m": model}, "hi there", temperature=0.5))
    assert answer == "m says hi there"
    assert model.log == [(EXPECTED[path], "hi there", {"temperature": 0.5})]


@pytest.mark.parametrize("path", ["stream", "astream"])
async def test_a_model_that_cannot_stream_is_called_whole_and_replayed_in_chunks(path):
    model = Model("m", streams=False)
    front = door(Pipeline(), {"m": model}, "hi there")
    chunks = list(front.stream()) if path == "stream" else [c async for c in front.astream()]
    assert chunks == ["m ", "says ", "hi ", "there"]
    assert [entry[0] for entry in model.log] == ["say" if path == "stream" else "asay"]


@pytest.mark.parametrize("path", ["stream", "astream"])
async def test_a_replayed_answer_is_stored_like_a_stream(path):
    model = Model("m", streams=False)
    pipe: Pipeline[str, str] = Pipeline(cache=SemanticCache(mode="exact"))
    first = await call(path, door(pipe, {"m": model}, "hi there"))
    again = await call("run", door(pipe, {"m": model}, "hi there"))
    assert first == again == "m says hi there"
    assert len(model.log) == 1  # the second call was a cache hit


@pytest.mark.parametrize("path", PATHS)
async def test_the_routed_model_answers(path):
    table = ModelTable(
        [ModelSpec("small", 0.1, 0.4, quality=0.9), ModelSpec("large", 2.5, 10, quality=0.95)]
    )
    models = {"small": Model("small"), "large": Model("large")}
    pipe: Pipeline[str, str] = Pipeline(router=Router(table, quality_target=0.5))
    assert await call(path, door(pipe, models, "hi")) == "small says hi"
    assert models["large"].log == []


def test_pipeline_stream_replays_a_finished_start():
    pipe: Pipeline[str, str] = Pipeline()
    chunks = pipe.stream(Request(prompt="q"), lambda sent: Finished("a b c"), TextCodec())
    assert list(chunks) == ["a ", "b ", "c"]


def test_a_replay_the_caller_stops_is_charged_for_the_whole_answer():
    answer = "word " * 400  # the model generated all of it before the first chunk
    spent = {}
    for how in ("read", "closed"):
        budget = SpendBudget(limit_usd=10.0)
        pipe: Pipeline[str, str] = Pipeline(budget=budget)
        chunks = pipe.stream(
            Request(prompt="hi", model="gpt-4o"), lambda sent: Finished(answer), TextCodec()
        )
        if how == "read":
            assert "".join(chunks) == answer
        else:
            next(chunks)
            chunks.close()
        spent[how] = budget.spent_usd
    assert spent["closed"] == pytest.approx(spent["read"]) and spent["read"] > 0


async def test_an_async_replay_the_caller_stops_is_charged_for_the_whole_answer():
    answer = "word " * 400

    async def finished(sent: Any) -> Finished[str]:  # opens like LlamaIndex's astream_chat
        return Finished(answer)

    spent = {}
    for how in ("read", "closed"):
        budget = SpendBudget(limit_usd=10.0)
        pipe: Pipeline[str, str] = Pipeline(budget=budget)
        chunks = pipe.astream(Request(prompt="hi", model="gpt-4o"), finished, TextCodec())
        if how == "read":
            assert "".join([c async for c in chunks]) == answer
        else:
            await chunks.__anext__()
            await chunks.aclose()
        spent[how] = budget.spent_usd
    assert spent["closed"] == pytest.approx(spent["read"]) and spent["read"] > 0


@pytest.mark.parametrize("opens", [False, True])
async def test_a_provider_stream_the_caller_stops_is_closed_at_once(opens):
    closed = []

    async def provider() -> AsyncIterator[str]:
        try:
            for word in ("a ", "b ", "c"):
                yield word
        finally:
            closed.append(True)

    async def opening(sent: Any) -> AsyncIterator[str]:  # LlamaIndex's astream_chat
        return provider()

    pipe: Pipeline[str, str] = Pipeline(budget=SpendBudget(limit_usd=1.0))
    start = opening if opens else (lambda sent: provider())
    chunks = pipe.astream(Request(prompt="hi", model="gpt-4o"), start, TextCodec())
    assert await chunks.__anext__() == "a "
    await chunks.aclose()
    assert closed == [True]  # not left to the garbage collector's next turn


def test_answer_cap_is_the_callers_else_the_largest_known_model_cap():
    assert answer_cap(64, [1000]) == 64
    assert answer_cap(None, [256, 512]) == 512
    assert answer_cap(None, [256, None]) is None  # one model has no cap: unbounded
    assert answer_cap(0) is None
    assert answer_cap("64") is None
    assert answer_cap(None) is None


def test_price_of_names_the_fix_for_an_unpriced_model():
    pipe: Pipeline[str, str] = Pipeline(budget=SpendBudget(limit_usd=1.0))
    assert pipe.spend.price_of("gpt-4o-mini") == PriceTable.default().get("gpt-4o-mini")
    with pytest.raises(ConfigError, match=r"with_prices\(\{'no-such-model'"):
        pipe.spend.price_of("no-such-model")
    with pytest.raises(ConfigError, match="no name to look it up by"):
        pipe.spend.price_of(None)  # a model that does not say its name
    with pytest.raises(ConfigError, match="no-such-model"):
        pipe.check_priced("no-such-model")  # a front door's own model, with a budget
    Pipeline[str, str]().check_priced("no-such-model")  # no budget: nothing to price
