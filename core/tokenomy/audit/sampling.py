"""The model-heavy columns of a large audit, estimated on a stratified sample with an
interval.

Replaying every call through MiniLM (the semantic cache, compression, few-shot
selection, the router's embedding of each question) is what makes an audit slow; on
a workload of more than :attr:`Sampling.above` calls these columns run on a sample of about
:attr:`Sampling.calls` calls instead, and their totals are scaled up with a
confidence interval. Below the threshold they stay exact.

The design, in survey-sampling terms: a stratified cluster sample.

* **Units** (clusters): the calls of one user asking one question, on one model and
  feature: ``(feature, model, tags.user, the question's content words)``. A cache hit
  needs an earlier call of the same model, scope and (near) same question, so the calls
  that can hit each other stay together and a unit's savings do not depend on units
  outside the sample. A paraphrase with other content words falls in another unit: its
  hit on the first wording is counted only when both units are drawn (a small
  downward bias, measured in ``benchmarks/audit_scale.py``).
* **Strata**: feature x model. Units are drawn at random within each stratum, in
  proportion to its size (at least two per stratum, so it has a variance).
* **Estimate**: each stratum's sampled units scaled to its size (``N_h / n_h``), summed;
  the variance is the textbook stratified one with the finite-population correction,
  ``sum N_h^2 (1 - n_h/N_h) s_h^2 / n_h``, and the interval is Student's t at
  :attr:`Sampling.confidence`, with the Satterthwaite degrees of freedom of that sum (a
  stratum of few units makes it wider than a normal one, as it should). A plug-in that
  measures part of its estimate on a few items (compression's kept share) reports that
  error as ``metrics["measurement_se_usd"]``; it widens the interval, added in
  quadrature.

A plug-in's savings per call (``SavingsEstimate.per_call``) are summed per unit; a
plug-in that reports none is scaled by the share of calls sampled, without an interval.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from statistics import NormalDist
from typing import Final

from tokenomy.audit.plugins import AuditedCall, AuditPlugin, SavingsEstimate
from tokenomy.audit.text import usd
from tokenomy.errors import ConfigError

__all__ = [
    "DEFAULT_SAMPLE_ABOVE",
    "DEFAULT_SAMPLE_CALLS",
    "MODEL_HEAVY",
    "Sample",
    "SampleSummary",
    "Sampling",
    "StratifiedTotal",
    "draw_sample",
    "t_quantile",
]

DEFAULT_SAMPLE_ABOVE: Final = 20_000
DEFAULT_SAMPLE_CALLS: Final = 5_000
MODEL_HEAVY: Final = frozenset(
    {"semantic_cache", "semantic_cache_shared", "compression", "few_shot", "routing"}
)
"""The built-in columns that run the embedding model over calls; a plug-in of
yours joins them with a ``sampled = True`` attribute."""

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "should",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    )
)


@dataclass(frozen=True)
class Sampling:
    """When and how the model-heavy columns are sampled.

    Args:
        above: audit these columns exactly on up to this many calls (with prompt
            text), on a sample beyond it. ``sys.maxsize`` (or ``Sampling.exact()``)
            never samples.
        calls: about how many calls the sample holds.
        confidence: of the intervals (default 0.95).
        seed: of the random draw (the same workload and seed draw the same sample).
    """

    above: int = DEFAULT_SAMPLE_ABOVE
    calls: int = DEFAULT_SAMPLE_CALLS
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.above < 0 or self.calls < 1:
            raise ConfigError(
                f"Sampling needs above >= 0 and calls >= 1; got above={self.above!r}, "
                f"calls={self.calls!r}."
            )
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"confidence is a share in (0, 1); got {self.confidence!r}.")

    @classmethod
    def exact(cls) -> Sampling:
        """Never sample: every column measured on every call."""
        return cls(above=2**62)

    def applies(self, n_calls: int) -> bool:
        return n_calls > self.above and n_calls > self.calls


def is_model_heavy(plugin: AuditPlugin) -> bool:
    """Whether ``plugin`` is sampled on a large workload."""
    flag = getattr(plugin, "sampled", None)
    return bool(flag) if flag is not None else plugin.name in MODEL_HEAVY


@lru_cache(maxsize=1 << 16)
def question_words(text: str) -> str:
    """The question's content words, sorted: how the audit keeps calls that ask the same
    thing (in other order or with other filler words) in one sampling unit. A long text
    is keyed on its first and last 1,000 characters."""
    if len(text) > 2000:
        text = f"{text[:1000]} {text[-1000:]}"
    words = {w for w in _WORD.findall(text.lower()) if w not in _STOP}
    return " ".join(sorted(words))


def unit_of(c: AuditedCall) -> tuple[str, str, str, str]:
    """The sampling unit of a call: (feature, model, user, question words)."""
    call = c.call
    return (
        call.tags.get("feature", ""),
        call.model,
        call.tags.get("user", ""),
        question_words(call.last_user_text),
    )


@dataclass(frozen=True)
class Sample:
    """A stratified sample of units, and what scaling it back needs."""

    calls: tuple[AuditedCall, ...]
    """The sampled units' calls, in workload order."""
    unit_of_line: Mapping[int, int]
    """Line of each sampled call -> its unit's number."""
    stratum_of_unit: Sequence[int]
    """Sampled unit number -> its stratum."""
    strata: Sequence[tuple[int, int]]
    """Per stratum: (units in the workload N_h, units sampled n_h)."""
    total_calls: int
    confidence: float

    @property
    def units(self) -> int:
        return len(self.stratum_of_unit)

    def estimate(self, values: Iterable[tuple[int, float]]) -> StratifiedTotal:
        """The workload total of a quantity given per sampled call as (line, value)."""
        per_unit = [0.0] * self.units
        for line, value in values:
            unit = self.unit_of_line.get(line)
            if unit is not None:
                per_unit[unit] += value
        by_stratum: list[list[float]] = [[] for _ in self.strata]
        for unit, value in enumerate(per_unit):
            by_stratum[self.stratum_of_unit[unit]].append(value)
        total = variance = spread = 0.0
        for (big_n, n), values_h in zip(self.strata, by_stratum, strict=True):
            if not n:
                continue
            mean = sum(values_h) / n
            total += big_n * mean
            if n > 1 and n < big_n:
                s2 = sum((v - mean) ** 2 for v in values_h) / (n - 1)
                part = big_n * big_n * (1 - n / big_n) * s2 / n
                variance += part
                spread += part * part / (n - 1)
        # Student's t at the Satterthwaite degrees of freedom: a stratum that holds the
        # savings in 30 units gives an interval a normal one would make too narrow
        df = variance * variance / spread if spread > 0 else math.inf
        half = t_quantile(self.confidence, df) * math.sqrt(variance)
        return StratifiedTotal(total, max(0.0, total - half), total + half)


def t_quantile(confidence: float, df: float) -> float:
    """The two-sided ``confidence`` quantile of Student's t with ``df`` degrees of
    freedom (the normal one for infinite ``df``), by the Cornish-Fisher expansion in
    ``1/df`` from 3 degrees of freedom on (Abramowitz and Stegun 26.7.5: within 0.2%
    of the exact value at 95%, 0.8% at 99%), exact below (at the whole degrees of
    freedom under ``df``: a little wider); no SciPy needed.

    Example:
        >>> round(t_quantile(0.95, 10), 3), round(t_quantile(0.95, math.inf), 3)
        (2.228, 1.96)
    """
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    if not math.isfinite(df):
        return z
    if df < 3:  # exact at 1 and 2 degrees of freedom, taken at the lower (wider)
        p = (1 + confidence) / 2
        if df < 2:
            return math.tan(math.pi * confidence / 2)
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    v = df
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


@dataclass(frozen=True)
class SampleSummary:
    """How the model-heavy columns were measured, for the report."""

    above: int
    """The threshold: exact at or below this many calls."""
    total_calls: int
    sampled_calls: int
    """0 when every call was measured."""
    units: int = 0
    strata: int = 0
    confidence: float = 0.95
    columns: tuple[str, ...] = ()
    """Titles of the columns estimated on the sample."""

    @property
    def sampled(self) -> bool:
        return self.sampled_calls > 0

    def sentence(self) -> str:
        """What the reader should know, in one sentence."""
        if not self.sampled and self.above >= 2**62:
            return "Model-heavy columns measured on every call (sampling off)."
        if not self.sampled:
            return (
                f"Model-heavy columns measured on every call ({self.total_calls:,} calls, "
                f"at or under the sampling threshold of {self.above:,})."
            )
        return (
            f"{', '.join(self.columns)} estimated on a stratified sample of "
            f"{self.sampled_calls:,} of {self.total_calls:,} calls ({self.units:,} units in "
            f"{self.strata} feature x model strata; the workload is over the sampling "
            f"threshold of {self.above:,} calls, `--exact` measures every call), with "
            f"{self.confidence:.0%} intervals."
        )


@dataclass(frozen=True)
class StratifiedTotal:
    """An estimated total and its interval."""

    value: float
    low: float
    high: float


def draw_sample(calls: Sequence[AuditedCall], sampling: Sampling) -> Sample:
    """A stratified sample of about ``sampling.calls`` calls, drawn by whole units."""
    units: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for i, c in enumerate(calls):
        units[unit_of(c)].append(i)
    strata: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for unit_key, unit_calls in units.items():
        strata[unit_key[:2]].append(unit_calls)
    share = min(1.0, sampling.calls / max(1, len(calls)))
    rng = random.Random(sampling.seed)
    chosen: list[int] = []
    unit_of_line: dict[int, int] = {}
    stratum_of_unit: list[int] = []
    sizes: list[tuple[int, int]] = []
    for h, key in enumerate(sorted(strata)):
        members = strata[key]
        n = min(len(members), max(2, round(share * len(members))))
        sizes.append((len(members), n))
        for unit in rng.sample(members, n):
            for i in unit:
                unit_of_line[calls[i].call.line] = len(stratum_of_unit)
                chosen.append(i)
            stratum_of_unit.append(h)
    chosen.sort()
    return Sample(
        calls=tuple(calls[i] for i in chosen),
        unit_of_line=unit_of_line,
        stratum_of_unit=stratum_of_unit,
        strata=sizes,
        total_calls=len(calls),
        confidence=sampling.confidence,
    )


def scale_estimate(estimate: SavingsEstimate, sample: Sample) -> SavingsEstimate:
    """A column measured on ``sample``, scaled to the workload with its interval."""
    n, big_n = len(sample.calls), sample.total_calls
    per_call = estimate.per_call
    if per_call is None or (not len(per_call) and estimate.cost_saved_usd):
        factor = big_n / max(1, n)  # no per-call savings: scaled, without an interval
        note = (
            f"Estimated on a sample of {n:,} of {big_n:,} calls and scaled by the share "
            "sampled (the plug-in reports no per-call savings, so no interval)."
        )
        return replace(
            estimate,
            calls_affected=round(estimate.calls_affected * factor),
            input_tokens_saved=round(estimate.input_tokens_saved * factor),
            output_tokens_saved=round(estimate.output_tokens_saved * factor),
            cost_saved_usd=estimate.cost_saved_usd * factor,
            findings=(note, *estimate.findings),
            sampled_calls=n,
        )
    rows = list(per_call)
    cost = _with_measurement_error(
        sample.estimate((line, c) for line, _, _, c in rows), estimate, sample.confidence
    )
    affected = sample.estimate((line, 1.0) for line in {r[0] for r in rows})
    inp = sample.estimate((line, float(i)) for line, i, _, _ in rows)
    out = sample.estimate((line, float(o)) for line, _, o, _ in rows)
    note = (
        f"Estimated on a stratified sample of {n:,} of {big_n:,} calls ({sample.units:,} "
        f"units, {len(sample.strata)} feature x model strata): {usd(cost.value)}, "
        f"{sample.confidence:.0%} interval {usd(cost.low)} to {usd(cost.high)}; "
        "the findings below describe the sample."
    )
    return replace(
        estimate,
        calls_affected=round(affected.value),
        input_tokens_saved=round(inp.value),
        output_tokens_saved=round(out.value),
        cost_saved_usd=cost.value,
        findings=(note, *estimate.findings),
        interval_usd=(cost.low, cost.high),
        sampled_calls=n,
    )


def _with_measurement_error(
    total: StratifiedTotal, estimate: SavingsEstimate, confidence: float
) -> StratifiedTotal:
    """Widen the interval by the plug-in's own measurement error, when it reports one
    (``metrics["measurement_se_usd"]``, e.g. compression's kept share measured on a few
    messages), added in quadrature as a share of the estimate."""
    se = float(estimate.metrics.get("measurement_se_usd", 0.0))
    if se <= 0 or estimate.cost_saved_usd <= 0:
        return total
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    half = math.hypot(total.high - total.value, z * se / estimate.cost_saved_usd * total.value)
    return StratifiedTotal(total.value, max(0.0, total.value - half), total.value + half)
