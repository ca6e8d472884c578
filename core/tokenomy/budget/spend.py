"""Spend limits held in one process's memory, safe across threads.

Checking a budget before a call and charging it after leaves a window in which
every concurrent call sees the same room: eight threads under a $5 limit with $1
calls spent $11. A :class:`SpendBudget` closes the window with reservations: a
call reserves its upper-bound cost before it starts (refused when the room left,
net of what others have reserved, is smaller), and settles to its actual cost
when it ends, releasing the rest. Spend can then pass the limit only by what a
call costs beyond its own reservation (an answer longer than the reserved
output, when the caller set no ``max_tokens``).

For limits shared by several processes or machines, use
:class:`~tokenomy.budget.RedisBudget`: the same limits, enforced in Redis.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tokenomy.budget.alerts import Alerts
from tokenomy.budget.base import Budget, Refusal, Reservation, refusal
from tokenomy.budget.limits import Account, Limit
from tokenomy.errors import BudgetExceededError, ConfigError

__all__ = ["Reservation", "SpendBudget"]

_PRUNE_EVERY_S = 1.0


@dataclass
class _Book:
    """One account's spend per (bucket, tenant) and its open reservations."""

    expires_at: float
    spent: dict[tuple[int, str], float] = field(default_factory=lambda: defaultdict(float))
    open: dict[int, tuple[float, str]] = field(default_factory=dict)

    def window(self, account: Account) -> tuple[dict[str, float], dict[str, float]]:
        spent: dict[str, float] = defaultdict(float)
        for (bucket, tenant), usd in list(self.spent.items()):
            if bucket < account.live_from:
                del self.spent[(bucket, tenant)]  # out of the window for good
            else:
                spent[tenant] += usd
        reserved: dict[str, float] = defaultdict(float)
        for usd, tenant in self.open.values():
            reserved[tenant] += usd
        return spent, reserved


class SpendBudget(Budget):
    """Spend limits in USD kept in this process (per user, feature, model, any tag).

    ``SpendBudget(5.0)`` is one limit of $5 over every call, for the life of the
    object; ``limits=[...]`` adds any :class:`~tokenomy.budget.Limit` (per user
    per day, per feature per month, soft ones that only alert…).

    Args:
        limit_usd: one total limit over every call, > 0 (default None: only
            ``limits``).
        limits: more limits.
        low_share: share of ``limit_usd`` under which the state is ``"low"`` (the
            router shifts to cheaper models), in [0, 1) (default 0.2).
        alerts: where threshold alerts go (default None).
        clock: epoch seconds (default ``time.time``).

    Example:
        >>> budget = SpendBudget(5.0)
        >>> r = budget.reserve(1.0)
        >>> budget.settle(r, 0.25)
        >>> budget.spent_usd, budget.reserved_usd
        (0.25, 0.0)
        >>> daily = SpendBudget(limits=[Limit(usd=1.0, window="day", per="user")])
        >>> daily.charge(1.0, labels={"user": "u1"})
        >>> daily.reserve(0.5, labels={"user": "u2"}).usd
        0.5
        >>> daily.reserve(0.5, labels={"user": "u1"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tokenomy.errors.BudgetExceededError: the $1.00 daily limit 'user-day' for user 'u1' is ...
    """

    def __init__(
        self,
        limit_usd: float | None = None,
        *,
        limits: Sequence[Limit] = (),
        low_share: float = 0.2,
        alerts: Alerts | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        chosen = list(limits)
        if limit_usd is not None:
            if (
                isinstance(limit_usd, bool)
                or not isinstance(limit_usd, int | float)
                or not limit_usd > 0
                or not 0.0 <= low_share < 1.0
            ):
                raise ConfigError(
                    "limit_usd must be > 0 and low_share in [0, 1); "
                    f"got {limit_usd!r}, {low_share!r}."
                )
            chosen.insert(0, Limit(usd=limit_usd, low_share=low_share, name="total"))
        elif not chosen:
            raise ConfigError(
                "SpendBudget needs a limit: SpendBudget(50.0) for $50 in total, or "
                "limits=[Limit(usd=5, window='day', per='user'), ...]."
            )
        super().__init__(limits=chosen, alerts=alerts, clock=clock)
        self._books: dict[str, _Book] = {}
        self._open: dict[int, tuple[float, list[tuple[Limit, Account]]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    # -- hooks ---------------------------------------------------------------------------

    def _reserve(
        self, usd: float, labels: Mapping[str, str], now: float, *, force: bool = False
    ) -> Reservation:
        pairs = self._accounts(labels, now)
        refused: Refusal | None = None
        with self._lock:
            self._prune(now)
            for lim, account in pairs:
                book = self._book(account)
                spent, reserved = book.window(account)
                refused = None if force else refusal(lim, account, spent, reserved, usd)
                if refused is not None:
                    break
            else:
                reservation = Reservation(next(self._ids), usd)
                for _, account in pairs:
                    self._books[account.key].open[reservation.id] = (usd, account.tenant)
                self._open[reservation.id] = (usd, pairs)
                return reservation
        if refused.reason != "fair share":
            self._crossed(refused.limit, refused.account, refused.spent_usd, refused_usd=usd)
        raise BudgetExceededError(refused.message())

    def _settle(self, reservation: Reservation, usd: float, now: float) -> None:
        crossed = []
        with self._lock:
            held = self._open.pop(reservation.id, None)
            if held is None:
                return  # settled or released already
            for lim, account in held[1]:
                book = self._book(account)
                book.open.pop(reservation.id, None)
                book.spent[(account.bucket, account.tenant)] += usd
                if self.alerts is not None:
                    crossed.append((lim, account, sum(book.window(account)[0].values())))
        for lim, account, spent in crossed:
            self._crossed(lim, account, spent)

    def _release(self, reservation: Reservation, now: float) -> None:
        with self._lock:
            held = self._open.pop(reservation.id, None)
            for _, account in held[1] if held is not None else ():
                book = self._books.get(account.key)
                if book is not None:
                    book.open.pop(reservation.id, None)

    def _totals(self, limit: Limit, account: Account) -> tuple[dict[str, float], dict[str, float]]:
        with self._lock:
            book = self._books.get(account.key)
            return book.window(account) if book is not None else ({}, {})

    # -- helpers ---------------------------------------------------------------------------

    def _book(self, account: Account) -> _Book:
        book = self._books.get(account.key)
        if book is None:
            book = self._books[account.key] = _Book(account.expires_at)
        book.expires_at = max(book.expires_at, account.expires_at)
        return book

    def _prune(self, now: float) -> None:
        """Forget accounts whose window ended (and that hold no reservation)."""
        if now - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = now
        for key in [k for k, b in self._books.items() if b.expires_at < now and not b.open]:
            del self._books[key]

    @property
    def reserved_usd(self) -> float:
        """USD reserved by calls in flight."""
        with self._lock:
            return float(sum(usd for usd, _ in self._open.values()))

    def check(self) -> None:
        """Invariants: spend and reservations are never negative, and every account's
        open reservations are open calls."""
        with self._lock:
            for key, book in self._books.items():
                if any(v < 0 for v in book.spent.values()):
                    raise AssertionError(f"negative spend in account {key!r}")
                if any(usd < 0 for usd, _ in book.open.values()):
                    raise AssertionError(f"negative reservation in account {key!r}")
                stray = set(book.open) - set(self._open)
                if stray:
                    raise AssertionError(f"account {key!r} holds closed reservations {stray}")

    def __repr__(self) -> str:
        return (
            f"SpendBudget(limits={[lim.name for lim in self.limits]}, "
            f"spent_usd={self.spent_usd:.6f}, open_reservations={len(self._open)})"
        )
