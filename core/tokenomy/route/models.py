"""The model table a router chooses from: price, context window, quality, capabilities."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from tokenomy.errors import ConfigError, UnknownNameError
from tokenomy.tokens.prices import ModelPrice, PriceTable

__all__ = ["DEFAULT_QUALITY", "QUALITY_TIERS", "ModelSpec", "ModelTable"]

CAPABILITIES: Final = frozenset({"tools", "vision", "json"})

DEFAULT_QUALITY: Final[dict[str, float]] = {
    "gpt-4.1-nano": 0.55,
    "gpt-4o-mini": 0.65,
    "gpt-4.1-mini": 0.72,
    "claude-3-5-haiku-20241022": 0.66,
    "gemini-2.5-flash": 0.74,
    "gpt-4o": 0.80,
    "gpt-4.1": 0.83,
    "claude-sonnet-4-20250514": 0.86,
    "gpt-5": 0.90,
}
"""Prior success rates of the default table's models on a typical request, before any
fitting: ordered by their public benchmark standing (MMLU-class scores), rounded.
They are the tiers the default router's prior reads (``docs/routing.md``: mapping
your models onto tiers)."""

QUALITY_TIERS: Final[dict[str, float]] = {
    **DEFAULT_QUALITY,
    "open-mixtral-8x7b": 0.68,
    "mistralai/Mixtral-8x7B-Instruct-v0.1": 0.68,
    "gpt-4-1106-preview": 0.81,
    "gpt-4-turbo": 0.82,
    "gpt-3.5-turbo": 0.64,
}
"""Quality tiers of more models (the default table's, and the pair the default prior was
fitted on: Mixtral-8x7B 0.68 and GPT-4-1106 0.81, their accuracy on that MMLU data)."""


@dataclass(frozen=True)
class ModelSpec:
    """One model a router may send a request to.

    Attributes:
        name: the name the caller uses for it (a key of ``RoutingChatModel(models=…)``).
        input_price / output_price: USD per 1M tokens.
        context_window: max input tokens (None: unknown, assumed large enough).
        quality: prior success rate in [0, 1], used before the router is fitted.
        capabilities: any of ``"tools"``, ``"vision"``, ``"json"``.
    """

    name: str
    input_price: float
    output_price: float
    context_window: int | None = None
    quality: float = 0.7
    capabilities: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality <= 1.0:
            raise ConfigError(f"quality of {self.name!r} must be in [0, 1]; got {self.quality!r}.")
        unknown = set(self.capabilities) - CAPABILITIES
        if unknown:
            raise ConfigError(
                f"unknown capabilities {sorted(unknown)} for {self.name!r}; "
                f"use {sorted(CAPABILITIES)}."
            )

    @classmethod
    def from_price(cls, name: str, price: ModelPrice, quality: float) -> ModelSpec:
        """A spec with the price, window and capabilities of a price-table entry."""
        caps = {
            cap
            for cap, ok in (
                ("tools", price.supports_tools),
                ("vision", price.supports_vision),
                ("json", price.supports_json),
            )
            if ok
        }
        return cls(name, price.input, price.output, price.context_window, quality, frozenset(caps))

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1e6

    def fits(self, input_tokens: int) -> bool:
        return self.context_window is None or input_tokens <= self.context_window


class ModelTable:
    """Models by name, cheapest first.

    Example:
        >>> table = ModelTable.from_prices({"small": ("gpt-4o-mini", 0.65),
        ...                                 "large": ("gpt-4o", 0.80)})
        >>> [m.name for m in table], table["large"].context_window
        (['small', 'large'], 128000)
    """

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        specs = list(models)
        if not specs:
            raise ConfigError("a model table needs at least one model.")
        names = [m.name for m in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"model names must be unique; got {names}.")
        self._models = sorted(specs, key=lambda m: (m.input_price + m.output_price, m.name))

    @classmethod
    def from_prices(
        cls,
        models: Mapping[str, tuple[str, float]],
        *,
        prices: PriceTable | None = None,
    ) -> ModelTable:
        """Specs from the price table: ``{name: (priced model, quality)}``."""
        table = prices or PriceTable.default()
        specs = []
        for name, (model, quality) in models.items():
            price = table.get(model)
            if price is None:
                raise UnknownNameError(
                    f"no price for {model!r} (model {name!r}); add it with "
                    "PriceTable.with_prices(...) or build a ModelSpec by hand."
                )
            specs.append(ModelSpec.from_price(name, price, quality))
        return cls(specs)

    @classmethod
    def from_model_ids(
        cls, models: Mapping[str, str | None], *, prices: PriceTable | None = None
    ) -> ModelTable:
        """Specs for a front door's models, ``{name: model id}``, priced from the table,
        with the default quality prior of the priced model (0.7 when it has none).

        Raises:
            ConfigError: a model the table cannot price (the message says how to fix it).
        """
        table = prices or PriceTable.default()
        specs = []
        for name, model_id in models.items():
            price = table.get(model_id)
            if price is None:
                raise ConfigError(
                    f"no price for model {name!r} ({model_id!r}); pass "
                    "router=Router(ModelTable([ModelSpec(...), ...])) to describe it, or "
                    "prices=PriceTable.default().with_prices({...})."
                )
            specs.append(ModelSpec.from_price(name, price, QUALITY_TIERS.get(price.model, 0.7)))
        return cls(specs)

    @classmethod
    def default(cls, *, prices: PriceTable | None = None) -> ModelTable:
        """Nine current models from nano to frontier, priced from the bundled table."""
        return cls.from_prices({m: (m, q) for m, q in DEFAULT_QUALITY.items()}, prices=prices)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def __getitem__(self, name: str) -> ModelSpec:
        for m in self._models:
            if m.name == name:
                return m
        raise UnknownNameError(f"no model {name!r} in the table; it has {self.names}.")

    @property
    def names(self) -> list[str]:
        return [m.name for m in self._models]
