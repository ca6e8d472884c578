"""The audit: price every call of a workload, sum it by model, tag and time, find
the most expensive requests, and ask each plug-in what its technique would save.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tokenomy.audit.combine import STAGES, CombinedEstimate, combine
from tokenomy.audit.ledger_source import load_source
from tokenomy.audit.plugins import (
    AuditContext,
    AuditedCall,
    AuditPlugin,
    IdentityMemo,
    SavingsEstimate,
)
from tokenomy.audit.registry import create_plugins
from tokenomy.audit.sampling import (
    Sample,
    SampleSummary,
    Sampling,
    draw_sample,
    is_model_heavy,
    scale_estimate,
)
from tokenomy.audit.spend import priced, spend_tables
from tokenomy.audit.workload import LineError, Workload, WorkloadCall
from tokenomy.errors import ConfigError, MissingDependencyError, WorkloadError
from tokenomy.monitor.aggregate import Bucket
from tokenomy.monitor.records import UsageSummary
from tokenomy.tokens.counter import TokenCounter
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = ["AuditReport", "audit_calls", "run_audit", "sample_workload_path"]

logger = logging.getLogger(__name__)

_SKIPPED_TAG_TABLES = frozenset({"session", "request_id", "trace_id", "id"})


@dataclass(frozen=True)
class AuditReport:
    """Everything ``tokenomy audit`` prints and renders.

    ``errors`` holds every skipped line (unreadable, invalid, or failing to price)
    with its number and reason, in line order; ``truncated`` says why reading
    stopped early (a broken gzip stream), or is None.
    """

    workload: str
    calls: tuple[AuditedCall, ...]
    errors: tuple[LineError, ...]
    totals: UsageSummary
    by_model: list[UsageSummary]
    by_tag: dict[str, list[UsageSummary]]
    over_time: list[UsageSummary]
    bucket: Bucket
    top_requests: list[AuditedCall]
    savings: list[SavingsEstimate]
    unpriced_models: dict[str, int]
    prices_as_of: str | None
    seconds: float
    truncated: str | None = None
    notes: tuple[str, ...] = ()
    """What the reader should know about the estimates (e.g. calls without text)."""
    combined: CombinedEstimate | None = None
    """All techniques together, without counting a saving twice (None: no column ran)."""
    sampling: SampleSummary | None = None
    """How the model-heavy columns were measured (None: none of them ran)."""

    @property
    def period(self) -> tuple[float, float] | None:
        times = [c.call.timestamp for c in self.calls if c.call.timestamp is not None]
        return (min(times), max(times)) if times else None


def sample_workload_path() -> Path:
    """The sample workload bundled with tokenomy (built from public datasets)."""
    packaged = resources.files("tokenomy.audit").joinpath("data", "sample.jsonl.gz")
    if packaged.is_file():
        return Path(str(packaged))
    # Editable install: the file lives in the repository's examples folder.
    repo = Path(__file__).resolve().parents[3] / "examples" / "workloads" / "sample.jsonl.gz"
    return repo


def _price_call(
    call: WorkloadCall,
    counter: TokenCounter,
    prices: PriceTable,
    price: Callable[..., tuple[TokenUsage, bool, float | None]] = priced,
) -> AuditedCall:
    """One call priced (``price``: :func:`priced`, or a memo of it)."""
    usage, exact, cost = price(
        call.model,
        call.messages,
        call.prompt,
        call.tools,
        call.usage,
        call.response,
        counter,
        prices,
    )
    return AuditedCall(call, usage, exact, cost)


def audit_calls(
    workload: Workload,
    *,
    prices: PriceTable | None = None,
    plugins: Sequence[str] | None = None,
    top: int = 10,
    bucket: Bucket | None = None,
    on_step: Callable[[str], None] | None = None,
    sampling: Sampling | None = None,
) -> AuditReport:
    """Audit already-loaded calls; see :func:`run_audit`. ``on_step(title)`` is called
    before each savings plug-in runs (for a progress display)."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ConfigError(f"top is how many requests to list, an integer >= 0; got {top!r}.")
    started = time.perf_counter()
    prices = prices or PriceTable.default()
    counters: dict[str, TokenCounter] = {}
    audited = []
    errors = list(workload.errors)
    price_of = IdentityMemo(priced, 100_000)  # once per distinct shared request and answer
    for call in workload.calls:
        try:
            counter = counters.get(call.model) or counters.setdefault(
                call.model, TokenCounter(call.model)
            )
            # a reported usage needs no counting: priced as it comes, not held in the memo
            price = price_of if call.usage is None else priced
            audited.append(_price_call(call, counter, prices, price))
        except Exception as exc:  # one call that cannot be priced is skipped, not fatal
            errors.append(LineError(call.line, f"cannot count or price it ({exc!r})"[:300]))
    errors.sort(key=lambda e: e.line)
    if not audited:
        raise WorkloadError(
            f"Workload {workload.path!r} has no call that can be priced; first problem: "
            f"{errors[0] if errors else 'none'}."
        )
    unpriced = Counter(a.call.model for a in audited if a.cost_usd is None)
    tag_keys = sorted({k for a in audited for k in a.call.tags} - _SKIPPED_TAG_TABLES)
    times = [a.call.timestamp for a in audited if a.call.timestamp is not None]
    span = (max(times) - min(times)) if times else 0.0
    del times
    chosen: Bucket = bucket or (
        "hour" if span <= 2 * 86400 else "day" if span <= 120 * 86400 else "week"
    )
    tables = spend_tables(audited, prices, tag_keys, chosen)
    # a call without any prompt text (a ledger record, a redacted call log) is in the
    # spend tables, but gives the savings plug-ins nothing to judge: they never see it
    with_text = [a for a in audited if a.call.messages is not None or a.call.prompt]
    notes: list[str] = []
    if len(with_text) < len(audited):
        notes.append(
            f"{len(audited) - len(with_text):,} of {len(audited):,} calls carry no prompt text "
            "(a usage ledger, or a call log written without include_text): they count in the "
            "spend tables, and the savings estimates cover only the calls with text."
        )
    context = AuditContext(with_text, prices, counters=counters)
    sampling = sampling or Sampling()
    sample: Sample | None = None
    sample_context: AuditContext | None = None
    heavy: list[str] = []
    savings = []
    chosen_plugins = create_plugins(plugins)
    for plugin in chosen_plugins:
        if on_step is not None:
            on_step(plugin.title)
        ctx = context
        if is_model_heavy(plugin) and sampling.applies(len(with_text)):
            if sample is None:
                sample = draw_sample(with_text, sampling)
                sample_context = AuditContext(
                    sample.calls, prices, population=context.calls, counters=counters
                )
            ctx = sample_context or context
        try:
            estimate = plugin.estimate(ctx)
            if ctx is not context and sample is not None:
                estimate = scale_estimate(estimate, sample)
            savings.append(estimate)
            if is_model_heavy(plugin):
                heavy.append(plugin.title)
        except MissingDependencyError as exc:  # a light install: say which extra adds it
            note = str(exc).rsplit("`", 2)[-2] if "`" in str(exc) else str(exc)
            logger.info("tokenomy audit: %r skipped: %s", plugin.name, exc)
            savings.append(
                SavingsEstimate(
                    plugin.name, plugin.title, 0, 0, 0, 0.0, (f"not estimated: needs `{note}`",)
                )
            )
        except Exception as exc:  # one broken plug-in must not sink the report
            logger.warning(
                "tokenomy audit: plug-in %r failed (%s: %s); its column is left empty",
                plugin.name,
                type(exc).__name__,
                str(exc)[:200],
            )
            logger.debug("tokenomy audit: plug-in %r traceback", plugin.name, exc_info=True)
            savings.append(
                SavingsEstimate(
                    plugin.name,
                    plugin.title,
                    0,
                    0,
                    0,
                    0.0,
                    (f"failed: {type(exc).__name__}: {str(exc)[:200]}",),
                )
            )
    summary = None
    if heavy:
        summary = SampleSummary(
            above=sampling.above,
            total_calls=len(with_text),
            sampled_calls=len(sample.calls) if sample is not None else 0,
            units=sample.units if sample is not None else 0,
            strata=len(sample.strata) if sample is not None else 0,
            confidence=sampling.confidence,
            columns=tuple(heavy) if sample is not None else (),
        )
    return AuditReport(
        workload=workload.path,
        calls=tuple(audited),
        errors=tuple(errors),
        totals=tables["totals"].summaries()[0],
        by_model=tables["model"].summaries(),
        by_tag={k: tables[f"tag:{k}"].summaries() for k in tag_keys},
        over_time=tables["time"].summaries(),
        bucket=chosen,
        top_requests=sorted(audited, key=lambda a: -(a.cost_usd or 0.0))[:top],
        savings=savings,
        unpriced_models=dict(unpriced),
        prices_as_of=prices.as_of,
        seconds=time.perf_counter() - started,
        truncated=workload.truncated,
        notes=tuple(notes),
        combined=_safe_combined(savings, chosen_plugins, with_text, sample),
        sampling=summary,
    )


def _safe_combined(
    savings: Sequence[SavingsEstimate],
    plugins: Sequence[AuditPlugin],
    calls: Sequence[AuditedCall],
    sample: Sample | None,
) -> CombinedEstimate | None:
    try:
        return _combined(savings, plugins, calls, sample)
    except Exception as exc:  # the combined row is an extra: never sink the report
        logger.warning(
            "tokenomy audit: the combined estimate failed (%s: %s); it is left out",
            type(exc).__name__,
            str(exc)[:200],
        )
        return None


def _combined(
    savings: Sequence[SavingsEstimate],
    plugins: Sequence[AuditPlugin],
    calls: Sequence[AuditedCall],
    sample: Sample | None,
) -> CombinedEstimate | None:
    """All columns together, in pipeline order; on the sample when a column was sampled."""
    if not savings:
        return None
    stages = dict(STAGES)
    stages.update(
        {p.name: p.stage for p in plugins if isinstance(getattr(p, "stage", None), str)}  # type: ignore[attr-defined]
    )
    sampled = sample is not None and any(s.sampled_calls for s in savings)
    per_call, included, left_out, quality = combine(
        savings, sample.calls if sampled and sample is not None else calls, stages=stages
    )
    if not sampled or sample is None:
        inp = out = 0
        cost = 0.0
        for _, i, o, c in per_call:  # one row per call: no list of a million tuples
            inp, out, cost = inp + i, out + o, cost + c
        return CombinedEstimate(
            calls_affected=len(per_call),
            input_tokens_saved=inp,
            output_tokens_saved=out,
            cost_saved_usd=cost,
            included=included,
            left_out=left_out,
            changes_answers=quality,
        )
    rows = list(per_call)  # the sample's calls only
    total = sample.estimate((line, c) for line, _, _, c in rows)
    return CombinedEstimate(
        calls_affected=round(sample.estimate((r[0], 1.0) for r in rows).value),
        input_tokens_saved=round(sample.estimate((r[0], float(r[1])) for r in rows).value),
        output_tokens_saved=round(sample.estimate((r[0], float(r[2])) for r in rows).value),
        cost_saved_usd=total.value,
        included=included,
        left_out=left_out,
        changes_answers=quality,
        interval_usd=(total.low, total.high),
        sampled_calls=len(sample.calls),
    )


def run_audit(
    path: str | Path | None = None,
    *,
    prices: PriceTable | None = None,
    plugins: Sequence[str] | None = None,
    top: int = 10,
    progress: Callable[[int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    sampling: Sampling | None = None,
) -> AuditReport:
    """Audit a workload file (default: the bundled sample).

    Args:
        path: a ``.jsonl``/``.jsonl.gz`` workload or a SQLite usage ledger; None
            audits the bundled sample.
        prices: price table (default: the bundled one).
        plugins: names of the savings plug-ins to run (default: all registered).
        top: how many of the most expensive requests to list (>= 0).
        progress: called with bytes read, for a progress bar.
        on_step: called with each savings plug-in's title before it runs.
        sampling: when the model-heavy columns (semantic cache, compression, few-shot,
            routing) run on a stratified sample instead of every call (default: beyond 20,000
            calls, on about 5,000; ``Sampling.exact()`` never samples).

    Raises:
        WorkloadError: the file cannot be opened or holds no valid call. Bad lines
            never raise: they are skipped and listed in :attr:`AuditReport.errors`.
        ConfigError: ``top`` is negative.
    """
    workload = load_source(path or sample_workload_path(), progress=progress)
    return audit_calls(
        workload, prices=prices, plugins=plugins, top=top, on_step=on_step, sampling=sampling
    )
