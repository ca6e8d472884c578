"""Experiments: did an optimization help, with numbers and a plain verdict?

An :class:`Experiment` assigns each user (or session, or any label) to a variant by
a stable hash of its name and the unit's value, so a user stays in one variant on
every call, process and machine, and two experiments split users independently.
The app runs the variant's configuration (a technique on or off, a parameter) and
records each call in an :class:`ExperimentLog`: tokens, cost, latency, and later
the quality signal it trusts (a feedback score). :func:`experiment_report` compares
each variant with the control, metric by metric, with a two-sided permutation test
on the difference of means (no assumption about how costs are distributed; over
4,000 calls, Welch's normal approximation), and says in one line whether to keep
it. ``tokenomy experiments report LOG`` prints it.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenomy.errors import ConfigError

__all__ = [
    "Comparison",
    "Experiment",
    "ExperimentLog",
    "ExperimentReport",
    "VariantStats",
    "experiment_report",
]

METRICS = ("cost_usd", "tokens", "latency_s", "score")
_LOWER_IS_BETTER = {"cost_usd": True, "tokens": True, "latency_s": True, "score": False}


@dataclass(frozen=True)
class Experiment:
    """Splits units (users, sessions…) between variants by a stable hash.

    Args:
        name: the experiment's name (part of the hash: experiments split independently).
        variants: the variants' names; the first is the control (default
            ``("control", "treatment")``).
        weights: each variant's share (default equal).
        unit: the label whose value is hashed (default ``"user"``).

    Example:
        >>> exp = Experiment("semantic-cache")
        >>> exp.assign("u1") == exp.assign("u1")
        True
        >>> sorted({exp.assign(f"u{i}") for i in range(20)})
        ['control', 'treatment']
    """

    name: str
    variants: Sequence[str] = ("control", "treatment")
    weights: Sequence[float] | None = None
    unit: str = "user"

    def __post_init__(self) -> None:
        if not self.name or len(set(self.variants)) != len(self.variants) or len(self.variants) < 2:
            raise ConfigError(
                f"an Experiment needs a name and at least two distinct variants; got "
                f"{self.name!r}, {list(self.variants)!r}."
            )
        if self.weights is not None and (
            len(self.weights) != len(self.variants) or any(w <= 0 for w in self.weights)
        ):
            raise ConfigError(
                f"weights must give one share > 0 per variant ({len(self.variants)}); "
                f"got {self.weights!r}."
            )
        object.__setattr__(self, "variants", tuple(self.variants))

    @property
    def control(self) -> str:
        return self.variants[0]

    def assign(self, key: str) -> str:
        """The variant of the unit ``key`` (a user id…): the same on every call."""
        digest = hashlib.sha256(f"{self.name}\x00{key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        weights = list(self.weights or [1.0] * len(self.variants))
        edge = 0.0
        for variant, weight in zip(self.variants, weights, strict=True):
            edge += weight / sum(weights)
            if point < edge:
                return variant
        return self.variants[-1]

    def assign_labels(self, labels: Mapping[str, str]) -> str:
        """The variant of a call with ``labels`` (its ``unit`` label; the control when
        it has none, so unattributed calls never skew a variant)."""
        key = labels.get(self.unit)
        return self.assign(key) if key else self.control


class ExperimentLog:
    """Where calls and feedback of experiments are recorded (JSON Lines when a path
    is given, so several processes can append and a report can read it later).

    Args:
        path: a ``.jsonl`` file to append to (default None: memory only).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(
        self,
        experiment: Experiment | str,
        variant: str,
        *,
        request_id: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float | None = None,
        latency_s: float | None = None,
        score: float | None = None,
        at: float | None = None,
    ) -> None:
        """One call of ``variant``; ``score`` may come later with :meth:`feedback`."""
        if isinstance(experiment, Experiment):
            name, control = experiment.name, experiment.control
        else:
            name, control = experiment, None
        self._add(
            {
                "kind": "call",
                "experiment": name,
                "control": control,
                "variant": variant,
                "request_id": request_id,
                "tokens": int(input_tokens) + int(output_tokens),
                "cost_usd": cost_usd,
                "latency_s": latency_s,
                "score": score,
                "at": time.time() if at is None else at,
            }
        )

    def feedback(self, request_id: str, score: float) -> None:
        """The quality signal the app trusts for one recorded call (e.g. 1 = thumbs up)."""
        if not math.isfinite(score):
            raise ConfigError(f"a feedback score must be a finite number; got {score!r}.")
        self._add({"kind": "feedback", "request_id": request_id, "score": float(score)})

    def rows(self) -> list[dict[str, Any]]:
        """Every row recorded here (or read from ``path``), oldest first."""
        with self._lock:
            return list(self._rows)

    @classmethod
    def load(cls, path: str | Path) -> ExperimentLog:
        """Read a log written by any number of processes."""
        log = cls()
        with Path(path).open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    log._rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}: line {number} is not JSON ({exc}).") from exc
        return log

    def _add(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")


@dataclass(frozen=True)
class VariantStats:
    """One variant's calls: count and mean of each metric (None: never recorded)."""

    variant: str
    calls: int
    means: Mapping[str, float | None]
    scored: int


@dataclass(frozen=True)
class Comparison:
    """A variant against the control on one metric.

    Attributes:
        change: the variant's mean minus the control's.
        relative: that change over the control's mean (None when it is 0).
        p_value: two-sided permutation test of the difference of means.
        better: whether the change is an improvement (lower cost, higher score…).
    """

    metric: str
    variant: str
    control_mean: float
    variant_mean: float
    change: float
    relative: float | None
    p_value: float
    significant: bool
    better: bool


@dataclass(frozen=True)
class ExperimentReport:
    """The numbers and the verdict of one experiment."""

    experiment: str
    control: str
    alpha: float
    variants: tuple[VariantStats, ...]
    comparisons: tuple[Comparison, ...]
    verdicts: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"experiment {self.experiment!r} (control: {self.control}, alpha {self.alpha})"]
        head = f"{'variant':14} {'calls':>6} {'cost/call':>11} {'tokens/call':>12} "
        lines.append(head + f"{'latency':>9} {'score':>7} (scored)")
        for v in self.variants:
            m = v.means
            lines.append(
                f"{v.variant:14} {v.calls:6} {_fmt(m['cost_usd'], '$', 6):>11} "
                f"{_fmt(m['tokens'], '', 0):>12} {_fmt(m['latency_s'], '', 3):>9} "
                f"{_fmt(m['score'], '', 3):>7} ({v.scored})"
            )
        for c in self.comparisons:
            rel = f" ({c.relative:+.1%})" if c.relative is not None else ""
            sig = "significant" if c.significant else "not significant"
            lines.append(
                f"  {c.variant} vs {self.control}, {c.metric}: {c.change:+.6g}{rel}, "
                f"p = {c.p_value:.3f} ({sig})"
            )
        lines += [f"verdict for {v}: {text}" for v, text in self.verdicts.items()]
        return "\n".join(lines)


def experiment_report(
    log: ExperimentLog | Iterable[Mapping[str, Any]],
    experiment: str,
    *,
    control: str | None = None,
    alpha: float = 0.05,
    permutations: int = 10_000,
    seed: int = 0,
) -> ExperimentReport:
    """Compare each variant of ``experiment`` with its control.

    Args:
        log: an :class:`ExperimentLog` (or its rows).
        experiment: the experiment's name.
        control: the control variant (default: the one the log names, else
            ``"control"``, else the first variant recorded).
        alpha: significance level (default 0.05).
        permutations: resamples of the permutation test (default 10,000).
        seed: the resampling's seed (the report is reproducible).
    """
    rows = log.rows() if isinstance(log, ExperimentLog) else list(log)
    scores = {r["request_id"]: r["score"] for r in rows if r.get("kind") == "feedback"}
    calls = [r for r in rows if r.get("kind") == "call" and r.get("experiment") == experiment]
    if not calls:
        known = sorted({str(r.get("experiment")) for r in rows if r.get("kind") == "call"})
        raise ConfigError(
            f"no call of experiment {experiment!r} is recorded; experiments in the log: "
            f"{', '.join(known) or 'none'}."
        )
    by_variant: dict[str, dict[str, list[float]]] = {}
    for r in calls:
        metrics = by_variant.setdefault(r["variant"], {m: [] for m in METRICS})
        score = scores.get(r["request_id"], r.get("score"))
        for metric, value in (
            ("cost_usd", r.get("cost_usd")),
            ("tokens", r.get("tokens")),
            ("latency_s", r.get("latency_s")),
            ("score", score),
        ):
            if value is not None:
                metrics[metric].append(float(value))
    named = [r["control"] for r in calls if r.get("control")]
    control = control or (named[0] if named else None)
    control = control or ("control" if "control" in by_variant else calls[0]["variant"])
    if control not in by_variant:
        raise ConfigError(f"control {control!r} has no call; variants: {sorted(by_variant)}.")
    stats = tuple(
        VariantStats(
            v,
            sum(1 for r in calls if r["variant"] == v),
            {m: (statistics.fmean(x) if x else None) for m, x in metrics.items()},
            len(metrics["score"]),
        )
        for v, metrics in by_variant.items()
    )
    comparisons = []
    for variant, metrics in by_variant.items():
        if variant == control:
            continue
        for metric in METRICS:
            a, b = by_variant[control][metric], metrics[metric]
            if len(a) < 2 or len(b) < 2:
                continue
            change = statistics.fmean(b) - statistics.fmean(a)
            p = _permutation_p(a, b, permutations, seed)
            base = statistics.fmean(a)
            comparisons.append(
                Comparison(
                    metric,
                    variant,
                    base,
                    statistics.fmean(b),
                    change,
                    change / base if base else None,
                    p,
                    p < alpha,
                    (change < 0) == _LOWER_IS_BETTER[metric] and change != 0,
                )
            )
    verdicts = {
        v.variant: _verdict([c for c in comparisons if c.variant == v.variant], alpha)
        for v in stats
        if v.variant != control
    }
    return ExperimentReport(experiment, control, alpha, stats, tuple(comparisons), verdicts)


def _verdict(comparisons: list[Comparison], alpha: float) -> str:
    by = {c.metric: c for c in comparisons}
    cost, score = by.get("cost_usd"), by.get("score")
    if score is not None and score.significant and not score.better:
        return (
            f"worse: quality fell by {-score.change:.3g} (p = {score.p_value:.3f}); "
            "do not keep it as it is"
        )
    if cost is not None and cost.significant:
        if not cost.better:
            return f"costlier: {cost.relative or 0:+.1%} per call (p = {cost.p_value:.3f}); drop it"
        quality = (
            "and no measurable quality loss"
            if score is None or not score.significant
            else f"and better quality ({score.change:+.3g})"
        )
        if score is None:
            quality = "(no quality signal recorded: check quality before keeping it)"
        return (
            f"keep it: {cost.relative or 0:+.1%} cost per call (p = {cost.p_value:.3f}) {quality}"
        )
    return (
        f"no evidence yet: no significant difference in cost at alpha {alpha} (collect more calls)"
    )


_EXACT_UP_TO = 4000  # calls; beyond, the difference of means is normal enough (Welch)


def _permutation_p(a: Sequence[float], b: Sequence[float], permutations: int, seed: int) -> float:
    """Two-sided p-value of the difference of means, by random relabelling (Welch's
    normal approximation for large samples, where the permutations get slow)."""
    if len(a) + len(b) > _EXACT_UP_TO:
        se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
        if se == 0:
            return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
        z = abs(statistics.fmean(b) - statistics.fmean(a)) / se
        return math.erfc(z / math.sqrt(2))
    import numpy as np

    x = np.asarray([*a, *b], dtype=float)
    observed = abs(float(np.mean(b)) - float(np.mean(a)))
    rng = np.random.default_rng(seed)
    n, count = len(a), 0
    done = 0
    while done < permutations:  # in chunks, to keep memory flat
        k = min(1000, permutations - done)
        idx = np.argsort(rng.random((k, len(x))), axis=1)
        shuffled = x[idx]
        diffs = np.abs(shuffled[:, n:].mean(axis=1) - shuffled[:, :n].mean(axis=1))
        count += int(np.sum(diffs >= observed - 1e-12))
        done += k
    return (count + 1) / (permutations + 1)


def _fmt(value: float | None, unit: str, digits: int) -> str:
    return "-" if value is None else f"{unit}{value:,.{digits}f}"
