"""The plug-in interface through which each capability adds its "what this would
save" column to ``tokenomy audit``.

A plug-in is any object with a ``name``, a ``title`` and an
``estimate(context) -> SavingsEstimate`` method. Register a factory under a name
with :func:`tokenomy.audit.register_audit_plugin` (:mod:`tokenomy.audit.registry`).
The built-in estimates live beside this module, one per technique
(``semantic_cache``, ``compression``, ``context_window``, ``few_shot``,
``routing``, and ``builtin`` for the model-free ones): the audit imports the
techniques, never the reverse.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from tokenomy.audit.workload import WorkloadCall
from tokenomy.tokens.counter import TokenCounter
from tokenomy.tokens.prices import PriceTable
from tokenomy.tokens.usage import TokenUsage

__all__ = [
    "AuditContext",
    "AuditPlugin",
    "AuditedCall",
    "CallSavings",
    "IdentityMemo",
    "SavingsEstimate",
]

_R = TypeVar("_R")


class IdentityMemo(Generic[_R]):
    """A pure function's results on the workload's shared objects, by their identity.

    The reader makes each repeated conversation, message and text one object
    (:mod:`tokenomy.audit.workload`), so a million calls that send the same system
    prompt and documents are worked out once per distinct object, not once per call.
    Each entry holds its arguments, so an id is never reused while it is a key.
    Bounded: past ``limit`` entries it starts over. The default, a few thousand, holds
    what repeats soon; a memo of small results (a request's key) may keep more, but one
    of texts derived from each call (a prompt's prefix text) must not: on a log of
    distinct prompts it would hold a copy of every one.

    Example:
        >>> memo = IdentityMemo(len)
        >>> text = "abc"
        >>> memo(text), memo(text), len(memo)
        (3, 3, 1)
    """

    __slots__ = ("_fn", "_limit", "_memo")

    def __init__(self, fn: Callable[..., _R], limit: int = 4096) -> None:
        self._fn = fn
        self._limit = limit
        self._memo: dict[tuple[int, ...], tuple[tuple[Any, ...], _R]] = {}

    def __call__(self, *args: Any) -> _R:
        key = tuple(map(id, args))
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]
        value = self._fn(*args)
        if len(self._memo) >= self._limit:
            self._memo.clear()
        self._memo[key] = (args, value)
        return value

    def __len__(self) -> int:
        return len(self._memo)


@dataclass(frozen=True, slots=True)
class AuditedCall:
    """A workload call with its tokens and cost worked out."""

    call: WorkloadCall
    usage: TokenUsage
    exact: bool
    cost_usd: float | None


class CallSavings:
    """What a technique saves on each call it changes, by the call's line: what the
    audit needs to estimate a column on a sample (with an interval) and to combine
    the columns without counting a saving twice.

    Held compactly (four flat arrays, 28 bytes per saving recorded), so a
    million-call workload costs tens of MB, not a dict per call.

    Example:
        >>> s = CallSavings()
        >>> s.add(7, input_tokens=120, cost_usd=0.002)
        >>> s.add(7, output_tokens=30)
        >>> s.totals()
        {7: (120, 30, 0.002)}
    """

    __slots__ = ("_cost", "_input", "_lines", "_output")

    def __init__(self) -> None:
        self._lines = array("i")
        self._input = array("l")
        self._output = array("l")
        self._cost = array("d")

    def add(
        self,
        line: int | AuditedCall,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
        """Record a saving on the call at ``line`` (or on an :class:`AuditedCall`);
        several savings on one call add up."""
        self._lines.append(line.call.line if isinstance(line, AuditedCall) else line)
        self._input.append(input_tokens)
        self._output.append(output_tokens)
        self._cost.append(cost_usd)

    def add_whole(self, call: AuditedCall) -> None:
        """Record a call not made at all (served from a cache): all of it saved."""
        self.add(
            call,
            input_tokens=call.usage.input_tokens,
            output_tokens=call.usage.output_tokens,
            cost_usd=call.cost_usd or 0.0,
        )

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[tuple[int, int, int, float]]:
        """(line, input tokens, output tokens, dollars) per recorded saving."""
        return zip(self._lines, self._input, self._output, self._cost, strict=True)

    def totals(self) -> dict[int, tuple[int, int, float]]:
        """Line -> (input tokens, output tokens, dollars) saved on it."""
        out: dict[int, tuple[int, int, float]] = {}
        for line, i, o, c in self:
            a, b, d = out.get(line, (0, 0, 0.0))
            out[line] = (a + i, b + o, d + c)
        return out


@dataclass(frozen=True, slots=True)
class SavingsEstimate:
    """What one technique would have saved on the workload.

    Attributes:
        name: the plug-in's registry name.
        title: a human label, e.g. "Exact-match cache".
        calls_affected: calls the technique would have changed.
        input_tokens_saved / output_tokens_saved: tokens not sent or not generated.
        cost_saved_usd: dollars saved (can be non-zero with 0 tokens saved, e.g.
            provider prompt caching bills the same tokens cheaper).
        findings: short sentences explaining the estimate and its caveats.
        metrics: extra numbers (e.g. a retention estimate), by name.
        per_call: the saving on each call it changes, when the plug-in reports it
            (needed to estimate the column on a sample and to combine columns).
        interval_usd: (low, high) of ``cost_saved_usd`` when it was estimated on a
            sample (at the audit's confidence level); None when exact.
        sampled_calls: how many calls the estimate was measured on when sampled
            (0: measured on every call).
    """

    name: str
    title: str
    calls_affected: int
    input_tokens_saved: int
    output_tokens_saved: int
    cost_saved_usd: float
    findings: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    per_call: CallSavings | None = field(default=None, repr=False, compare=False)
    interval_usd: tuple[float, float] | None = None
    sampled_calls: int = 0

    @property
    def tokens_saved(self) -> int:
        return self.input_tokens_saved + self.output_tokens_saved


class AuditContext:
    """What a plug-in gets: the audited calls, the prices, and cached counters.

    ``population`` is every call of the workload; it differs from ``calls`` when a
    model-heavy column is estimated on a sample (``calls`` is then the sample). A
    plug-in whose estimate for one call depends on the others' content (few-shot
    selection's pool of examples) reads that content from ``population``.
    ``counters`` (model -> counter) shares the counters that priced the calls.
    """

    def __init__(
        self,
        calls: Sequence[AuditedCall],
        prices: PriceTable,
        *,
        population: Sequence[AuditedCall] | None = None,
        counters: dict[str, TokenCounter] | None = None,
    ) -> None:
        self.calls = tuple(calls)
        self.population = self.calls if population is None else tuple(population)
        self.prices = prices
        # the counters that priced the calls: their memo of long texts is warm
        self._counters: dict[str, TokenCounter] = {} if counters is None else counters
        self._memos: dict[str, IdentityMemo[Any]] = {}

    def memo(self, name: str, fn: Callable[..., _R], *, limit: int = 4096) -> IdentityMemo[_R]:
        """The audit's :class:`IdentityMemo` of ``fn`` under ``name``, shared by the
        plug-ins that work the same thing out (the exact cache and the de-duplication
        window both key each request)."""
        found = self._memos.get(name)
        if found is None:
            found = self._memos[name] = IdentityMemo(fn, limit)
        return found

    def counter(self, model: str) -> TokenCounter:
        """A token counter for ``model`` (cached)."""
        counter = self._counters.get(model)
        if counter is None:
            counter = self._counters[model] = TokenCounter(model)
        return counter

    def cost(self, model: str, usage: TokenUsage) -> float | None:
        """USD cost of ``usage`` on ``model``, None if unpriced (no warning)."""
        price = self.prices.get(model)
        return None if price is None else price.cost(usage).total_usd

    @property
    def total_cost_usd(self) -> float:
        return sum(c.cost_usd or 0.0 for c in self.calls)


@runtime_checkable
class AuditPlugin(Protocol):
    """Estimates what one technique would save on a workload."""

    name: str
    title: str

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        """Return the savings on ``context.calls``."""
        ...
