"""A dated price table (USD per million tokens) and cost estimates.

The bundled table (``data/prices.json``) is derived from tokencost's
``model_prices.json`` (MIT; itself from LiteLLM, MIT) by
``scripts/build_price_table.py``; its ``as_of`` date says how old the prices are.
Prices change: override them from a JSON file or in code.

A model that is not in the table has no cost: :func:`estimate_cost` returns None
and warns once, naming how to add the price. It never returns a silent 0.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from tokenomy.errors import PriceError
from tokenomy.tokens.usage import TokenUsage

__all__ = ["Cost", "ModelPrice", "PriceTable", "UnknownModelPriceWarning", "estimate_cost"]

_PER = 1_000_000.0


class UnknownModelPriceWarning(UserWarning):
    """A cost was asked for a model the price table does not know."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Price and limits of one model.

    Attributes:
        model: canonical name.
        input: USD per 1M input tokens.
        output: USD per 1M output tokens (reasoning tokens are billed as output).
        cached_input: USD per 1M cached input tokens; None when the provider has no
            discount, in which case cached tokens cost ``input``.
        cache_write: USD per 1M input tokens written to the provider's prompt cache;
            None: ``input`` x the provider's multiplier (Anthropic 1.25, else 1).
            Writes with a 1-hour lifetime cost twice ``input`` (Anthropic).
        context_window: maximum input tokens, when known.
        max_output_tokens: maximum output tokens, when known.
        provider: e.g. ``"openai"``.
        supports_tools / supports_vision / supports_json: capabilities, when known.
        aliases: other names that resolve to this entry (dated snapshots, …).
    """

    model: str
    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    provider: str | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    supports_json: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise PriceError(
                    f"Price {name!r} of model {self.model!r} must be a number >= 0 "
                    f"(USD per 1M tokens); got {value!r}."
                )

    def cost(self, usage: TokenUsage) -> Cost:
        """Cost of ``usage`` at this price (cache reads discounted, cache writes at the
        provider's premium)."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_5m = min(usage.cache_write_tokens, usage.input_tokens - cached)
        write_1h = min(usage.cache_write_1h_tokens, usage.input_tokens - cached - write_5m)
        write_price = self.cache_write
        if write_price is None:
            write_price = self.input * _CACHE_WRITE.get(self.provider or "", 1.0)
        long_price = self.input * (2.0 if self.provider == "anthropic" else 1.0)
        plain = usage.input_tokens - cached - write_5m - write_1h
        return Cost(
            model=self.model,
            input_usd=(plain * self.input + write_5m * write_price + write_1h * long_price) / _PER,
            cached_input_usd=cached * cached_price / _PER,
            output_usd=usage.output_tokens * self.output / _PER,
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """A cost in USD, split by kind of token."""

    model: str
    input_usd: float
    cached_input_usd: float
    output_usd: float

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.cached_input_usd + self.output_usd

    def scaled(self, factor: float) -> Cost:
        """This cost times ``factor`` (a discount: 0.5 for a Batch API job)."""
        return Cost(
            self.model,
            self.input_usd * factor,
            self.cached_input_usd * factor,
            self.output_usd * factor,
        )

    def __str__(self) -> str:
        return f"${self.total_usd:.6f} ({self.model})"


def _per_million(value: Any) -> float | None:
    return float(value) * _PER if isinstance(value, int | float) else None


_CACHE_WRITE = {"anthropic": 1.25}
"""Price of a prompt-cache write as a multiple of the input price, by provider."""

_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|@latest|-v\d+:\d+|:\w+)$")
_VENDOR_DOT = re.compile(r"^(?:(?:us|eu|apac|global)\.)?(?:anthropic|meta|mistral|cohere|amazon)\.")


def _candidates(model: str) -> Iterator[str]:
    """Names to try for ``model``, most specific first."""
    name = model.strip().lower()
    yield name
    parts = name.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[i:])
    base = _VENDOR_DOT.sub("", parts[-1])
    yield base
    stripped = _DATE_SUFFIX.sub("", base)
    while stripped != base:
        yield stripped
        base, stripped = stripped, _DATE_SUFFIX.sub("", stripped)


@dataclass(frozen=True)
class PriceTable:
    """Model prices, looked up by name, alias, or a provider-prefixed/dated variant.

    Example:
        >>> table = PriceTable.default()
        >>> table.get("openai/gpt-4o-2024-08-06").model
        'gpt-4o'
        >>> custom = table.with_prices({"my-model": {"input": 1.0, "output": 2.0}})
        >>> round(custom.cost("my-model", TokenUsage(1_000_000, 500_000)).total_usd, 2)
        2.0
    """

    prices: Mapping[str, ModelPrice]
    as_of: str | None = None
    source: str | None = None
    _index: dict[str, ModelPrice] = field(default_factory=dict, init=False, repr=False)
    _warned: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for price in self.prices.values():
            for name in (price.model, *price.aliases):
                self._index[name.lower()] = price

    # -- construction ------------------------------------------------------------

    @classmethod
    def default(cls) -> PriceTable:
        """The bundled table (see the module docstring for its source and date)."""
        with _default_lock:
            global _default_table
            if _default_table is None:
                raw = resources.files("tokenomy.tokens").joinpath("data", "prices.json")
                _default_table = cls.from_dict(json.loads(raw.read_text()))
            return _default_table

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build a table from ``{"models": {name: {...}}, "as_of": ...}`` or ``{name: {...}}``.

        Each model entry needs ``input`` and ``output`` (USD per 1M tokens); optional
        keys are ``cached_input``, ``cache_write``, ``context_window``, ``max_output_tokens``,
        ``provider``, ``supports_tools``, ``supports_vision``, ``supports_json`` and
        ``aliases``.
        """
        if not isinstance(data, Mapping):
            raise PriceError(f"A price table must be a JSON object; got {type(data).__name__}.")
        models = data.get("models", data)
        if not isinstance(models, Mapping):
            raise PriceError("The 'models' entry of a price table must be an object.")
        prices = {
            name: _price_from_entry(name, entry)
            for name, entry in models.items()
            if name not in ("as_of", "source", "currency", "unit")
        }
        return cls(prices, as_of=data.get("as_of"), source=data.get("source"))

    @classmethod
    def from_litellm(cls, data: Mapping[str, Any], *, as_of: str | None = None) -> PriceTable:
        """Every chat model of a LiteLLM ``model_prices_and_context_window.json`` (or
        tokencost's copy of it), converted from USD per token to USD per 1M tokens,
        with cache-read and cache-write prices when given.

        Example:
            >>> table = PriceTable.from_litellm({"my-llm": {
            ...     "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
            ...     "litellm_provider": "acme", "mode": "chat"}})
            >>> table.get("my-llm").output
            2.0
        """
        if not isinstance(data, Mapping):
            raise PriceError(f"A LiteLLM price file is a JSON object; got {type(data).__name__}.")
        models: dict[str, ModelPrice] = {}
        for name, entry in data.items():
            if not isinstance(entry, Mapping) or entry.get("mode", "chat") != "chat":
                continue
            inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
            if not isinstance(inp, int | float) or not isinstance(out, int | float):
                continue
            try:
                models[name] = _price_from_entry(
                    name,
                    {
                        "input": inp * _PER,
                        "output": out * _PER,
                        "cached_input": _per_million(entry.get("cache_read_input_token_cost")),
                        "cache_write": _per_million(entry.get("cache_creation_input_token_cost")),
                        "context_window": entry.get("max_input_tokens") or entry.get("max_tokens"),
                        "max_output_tokens": entry.get("max_output_tokens"),
                        "provider": entry.get("litellm_provider"),
                        "supports_tools": bool(entry.get("supports_function_calling")),
                        "supports_vision": bool(entry.get("supports_vision")),
                        "supports_json": bool(entry.get("supports_response_schema")),
                    },
                )
            except PriceError:  # one malformed entry does not spoil the update
                continue
        if not models:
            raise PriceError("No chat model with input and output prices in that file.")
        return cls(models, as_of=as_of, source="LiteLLM model_prices_and_context_window.json")

    def to_dict(self) -> dict[str, Any]:
        """The table in the format :meth:`from_dict` and ``--prices FILE`` read."""
        return {
            "as_of": self.as_of,
            "currency": "USD",
            "unit": "per 1M tokens",
            "source": self.source,
            "models": {
                p.model: {
                    k: v
                    for k, v in (
                        ("provider", p.provider),
                        ("input", p.input),
                        ("output", p.output),
                        ("cached_input", p.cached_input),
                        ("cache_write", p.cache_write),
                        ("context_window", p.context_window),
                        ("max_output_tokens", p.max_output_tokens),
                        ("supports_tools", p.supports_tools),
                        ("supports_vision", p.supports_vision),
                        ("supports_json", p.supports_json),
                        ("aliases", list(p.aliases)),
                    )
                    if v is not None
                }
                for p in self
            },
        }

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Read a table from a JSON file (same format as :meth:`from_dict`)."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except OSError as exc:
            raise PriceError(f"Cannot read price file {str(p)!r}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise PriceError(f"Price file {str(p)!r} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def with_prices(
        self, prices: Mapping[str, Mapping[str, Any]] | Iterable[ModelPrice] | PriceTable
    ) -> PriceTable:
        """A new table with ``prices`` added or replacing entries of the same name."""
        if isinstance(prices, PriceTable):
            extra = dict(prices.prices)
        elif isinstance(prices, Mapping):
            extra = {name: _price_from_entry(name, entry) for name, entry in prices.items()}
        else:
            extra = {p.model: p for p in prices}
        for name, price in extra.items():  # a newer price keeps the names the old one had
            old = self.prices.get(name)
            if old is not None and old.aliases:
                aliases = tuple(dict.fromkeys((*old.aliases, *price.aliases)))
                extra[name] = dataclasses.replace(price, aliases=aliases)
        return PriceTable({**self.prices, **extra}, as_of=self.as_of, source=self.source)

    def with_file(self, path: str | Path) -> PriceTable:
        """A new table overridden by the prices in a JSON file."""
        return self.with_prices(PriceTable.from_file(path))

    # -- lookup ------------------------------------------------------------------

    def get(self, model: str | None) -> ModelPrice | None:
        """The price of ``model``, or None if the table does not know it."""
        if not model:
            return None
        for name in _candidates(model):
            price = self._index.get(name)
            if price is not None:
                return price
        return None

    def cost(self, model: str | None, usage: TokenUsage) -> Cost | None:
        """Cost of ``usage`` on ``model``; None (with one warning per model) if unknown."""
        price = self.get(model)
        if price is None:
            key = model or ""
            if key not in self._warned:
                self._warned.add(key)
                warnings.warn(
                    f"tokenomy has no price for model {model!r}, so its cost is unknown (None). "
                    "Add one with PriceTable.default().with_prices({"
                    f"{model!r}: {{'input': <USD per 1M>, 'output': <USD per 1M>}}}}) or a JSON "
                    "file (PriceTable.default().with_file(path), or TOKENOMY_TOKENS__PRICES_FILE "
                    "for the CLI). See `tokenomy price --list` for the models it knows.",
                    UnknownModelPriceWarning,
                    stacklevel=3,
                )
            return None
        return price.cost(usage)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None

    def __iter__(self) -> Iterator[ModelPrice]:
        return iter(self.prices.values())

    def __len__(self) -> int:
        return len(self.prices)


def _price_from_entry(name: str, entry: Any) -> ModelPrice:
    if isinstance(entry, ModelPrice):
        return replace(entry, model=name)
    if not isinstance(entry, Mapping):
        raise PriceError(f"Price entry for {name!r} must be an object; got {entry!r}.")
    missing = [k for k in ("input", "output") if entry.get(k) is None]
    if missing:
        raise PriceError(
            f"Price entry for {name!r} lacks {', '.join(missing)} (USD per 1M tokens). "
            f"Example: {{{name!r}: {{'input': 2.5, 'output': 10.0}}}}."
        )
    known = {
        "input",
        "output",
        "cached_input",
        "cache_write",
        "context_window",
        "max_output_tokens",
        "provider",
        "supports_tools",
        "supports_vision",
        "supports_json",
        "aliases",
    }
    unknown = set(entry) - known
    if unknown:
        raise PriceError(
            f"Price entry for {name!r} has unknown keys {sorted(unknown)}; valid keys: "
            f"{sorted(known)}."
        )
    return ModelPrice(
        model=name,
        input=entry["input"],
        output=entry["output"],
        cached_input=entry.get("cached_input"),
        cache_write=entry.get("cache_write"),
        context_window=entry.get("context_window"),
        max_output_tokens=entry.get("max_output_tokens"),
        provider=entry.get("provider"),
        supports_tools=bool(entry.get("supports_tools", False)),
        supports_vision=bool(entry.get("supports_vision", False)),
        supports_json=bool(entry.get("supports_json", False)),
        aliases=tuple(entry.get("aliases", ())),
    )


_default_lock = threading.Lock()
_default_table: PriceTable | None = None


def estimate_cost(
    model: str | None, usage: TokenUsage, *, prices: PriceTable | None = None
) -> Cost | None:
    """Cost of ``usage`` on ``model`` with ``prices`` (default: the bundled table).

    Returns None, with a :class:`UnknownModelPriceWarning`, for a model the table
    does not know.

    Example:
        >>> usage = TokenUsage(input_tokens=1000, output_tokens=100)
        >>> round(estimate_cost("gpt-4o", usage).total_usd, 6)
        0.0035
    """
    return (prices or PriceTable.default()).cost(model, usage)
