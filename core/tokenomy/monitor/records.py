"""One usage record per LLM call, and aggregated summaries of many."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tokenomy.errors import ConfigError
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = ["Status", "UsageRecord", "UsageSummary"]

Status = Literal["ok", "error"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen_map(value: Mapping[str, Any] | None, what: str, kind: type) -> Mapping[str, Any]:
    if not value:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping; got {type(value).__name__}.")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise ConfigError(f"{what} keys must be strings; got {k!r}.")
        if kind is str:
            out[k] = v if isinstance(v, str) else str(v)
        else:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(f"{what}[{k!r}] must be a number; got {v!r}.")
            out[k] = kind(v)
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one LLM call spent, and what tokenomy saved on it.

    Token fields follow :class:`~tokenomy.tokens.TokenUsage`: ``input_tokens``
    includes ``cached_input_tokens``; ``output_tokens`` includes ``reasoning_tokens``.
    A call served from a cache spends 0 and records what it would have cost under
    ``saved_tokens``/``saved_cost_usd`` (technique name -> amount).

    Attributes:
        model: the model called; None goes to the "unattributed" bucket.
        cost_usd: None when the model has no known price (never a silent 0).
        latency_s: wall time of the call in seconds, when measured.
        exact: False when any token count was estimated rather than reported.
        tags: free attribution, e.g. ``{"user": "u1", "feature": "faq"}``.
        source: who recorded it, e.g. ``"langchain"``, ``"llama_index"``, ``"audit"``.
    """

    model: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float | None = None
    exact: bool = True
    cache_hit: bool = False
    saved_tokens: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    saved_cost_usd: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    status: Status = "ok"
    source: str = "core"
    timestamp: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"UsageRecord.{name} must be an int >= 0; got {value!r}.")
        if self.model is not None and not isinstance(self.model, str):
            raise ConfigError(f"UsageRecord.model must be a str or None; got {self.model!r}.")
        if self.status not in ("ok", "error"):
            raise ConfigError(f"UsageRecord.status must be 'ok' or 'error'; got {self.status!r}.")
        object.__setattr__(self, "tags", _frozen_map(self.tags, "tags", str))
        object.__setattr__(
            self, "saved_tokens", _frozen_map(self.saved_tokens, "saved_tokens", int)
        )
        object.__setattr__(
            self, "saved_cost_usd", _frozen_map(self.saved_cost_usd, "saved_cost_usd", float)
        )

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            self.input_tokens, self.output_tokens, self.cached_input_tokens, self.reasoning_tokens
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_usage(
        cls,
        model: str | None,
        usage: TokenUsage,
        *,
        prices: PriceTable | None = None,
        **fields: Any,
    ) -> UsageRecord:
        """Build a record from a :class:`TokenUsage`, pricing it with ``prices``."""
        if "cost_usd" not in fields:
            cost = (prices or PriceTable.default()).cost(model, usage) if model else None
            fields["cost_usd"] = None if cost is None else cost.total_usd
        return cls(
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": self.cost_usd,
            "latency_s": self.latency_s,
            "exact": self.exact,
            "cache_hit": self.cache_hit,
            "saved_tokens": dict(self.saved_tokens),
            "saved_cost_usd": dict(self.saved_cost_usd),
            "tags": dict(self.tags),
            "status": self.status,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageRecord:
        return cls(**{k: data[k] for k in _FIELDS if k in data})


_FIELDS = tuple(UsageRecord.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Totals of the records in one group (and time bucket).

    Attributes:
        group: the grouping values, e.g. ``{"model": "gpt-4o", "user": "u1"}``;
            a missing value is ``"unattributed"``.
        bucket_start: start of the time bucket (epoch seconds, UTC), or None.
        cost_usd: sum over records with a known cost; ``unpriced_calls`` counts the
            others, so an unknown price is never mistaken for a free call.
    """

    group: Mapping[str, str]
    bucket_start: float | None
    calls: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float
    unpriced_calls: int
    estimated_calls: int
    error_calls: int
    cache_hits: int
    saved_tokens: Mapping[str, int]
    saved_cost_usd: Mapping[str, float]

    @classmethod
    def empty(cls) -> UsageSummary:
        """A summary of no records."""
        return cls({}, None, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, {}, {})

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def total_saved_tokens(self) -> int:
        return sum(self.saved_tokens.values())

    @property
    def total_saved_cost_usd(self) -> float:
        return sum(self.saved_cost_usd.values())
