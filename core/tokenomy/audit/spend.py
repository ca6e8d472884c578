"""Pricing a workload's calls and summing the spend tables (totals, by model, by tag,
over time), one call at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokenomy.audit.plugins import AuditedCall, IdentityMemo
from tokenomy.monitor.aggregate import Aggregator, Bucket
from tokenomy.monitor.records import UsageRecord
from tokenomy.tokens.counter import TokenCounter
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = ["priced", "row_model", "spend_tables"]


def row_model(model: str, prices: PriceTable) -> str:
    """The model's row in the tables: a dated snapshot or provider-prefixed alias
    (``gpt-4o-mini-2024-07-18``) joins its model's row; the call keeps its own name."""
    price = prices.get(model)
    return price.model if price is not None else model


def priced(
    model: str,
    messages: tuple[Mapping[str, Any], ...] | None,
    prompt: str | None,
    tools: tuple[Mapping[str, Any], ...] | None,
    reported: TokenUsage | None,
    response: str | None,
    counter: TokenCounter,
    prices: PriceTable,
) -> tuple[TokenUsage, bool, float | None]:
    """A call's usage (reported, or counted), whether it is exact, and its cost."""
    if reported is not None:
        usage, exact = reported, True
    else:
        if messages is not None:
            inp = counter.measure(list(messages), tools=tools)
        else:
            inp = counter.measure(prompt or "")
        out = counter.count(response) if response else 0
        usage = TokenUsage(inp.tokens, out)
        exact = False
    price = prices.get(model)
    return usage, exact, None if price is None else price.cost(usage).total_usd


def spend_tables(
    audited: Sequence[AuditedCall], prices: PriceTable, tag_keys: Sequence[str], bucket: Bucket
) -> dict[str, Aggregator]:
    """The spend tables (totals, by model, by tag, over time), summed call by call: one
    record at a time, none held."""
    tables = {
        "totals": Aggregator(()),
        "model": Aggregator(("model",)),
        **{f"tag:{k}": Aggregator((k,)) for k in tag_keys},
    }
    over_time = tables["time"] = Aggregator((), bucket=bucket)
    every = [tables[k] for k in tables if k != "time"]
    rows = IdentityMemo(lambda model: row_model(model, prices))
    for a in audited:
        record = UsageRecord.from_usage(
            rows(a.call.model),
            a.usage,
            cost_usd=a.cost_usd,
            exact=a.exact,
            tags=a.call.tags,
            source="audit",
            timestamp=a.call.timestamp or 0.0,
            latency_s=a.call.latency_s,
            id=a.call.id,
        )
        for table in every:
            table.add(record)
        if record.timestamp:
            over_time.add(record)
    return tables
