"""An in-process spending limit that holds under concurrency.

Checking a budget before a call and charging it after leaves a window in which
every concurrent call sees the same room: eight threads under a $5 limit with $1
calls spent $11. A :class:`SpendBudget` closes the window with reservations: a
call reserves its upper-bound cost before it starts (refused when the room left,
net of what others have reserved, is smaller), and settles to its actual cost
when it ends, releasing the rest. Spend can then pass the limit only by what a
call costs beyond its own reservation (an answer longer than the reserved
output, when the caller set no ``max_tokens``).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Literal

from tokenomy.errors import BudgetExceededError, ConfigError

__all__ = ["Reservation", "SpendBudget"]

_EPSILON = 1e-12  # float slack, so that five $1 reservations fit a $5 limit


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one call: settle or release it exactly once."""

    id: int
    usd: float


class SpendBudget:
    """A spending limit in USD (per user, session or app), safe across threads.

    ``state`` is ``"ok"``, ``"low"`` (under ``low_share`` of the limit left: the
    router shifts to cheaper models) or ``"exhausted"`` (calls are refused).

    Args:
        limit_usd: the limit, > 0.
        low_share: share of the limit under which the state is ``"low"``, in [0, 1)
            (default 0.2).

    Example:
        >>> budget = SpendBudget(5.0)
        >>> r = budget.reserve(1.0)
        >>> budget.settle(r, 0.25)
        >>> budget.spent_usd, budget.reserved_usd
        (0.25, 0.0)
    """

    def __init__(self, limit_usd: float, *, low_share: float = 0.2) -> None:
        if not limit_usd > 0 or not 0.0 <= low_share < 1.0:
            raise ConfigError(
                f"limit_usd must be > 0 and low_share in [0, 1); got {limit_usd!r}, {low_share!r}."
            )
        self.limit_usd = float(limit_usd)
        self.low_share = low_share
        self._spent = 0.0
        self._open: dict[int, float] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def reserve(self, usd: float) -> Reservation:
        """Set ``usd`` aside for a call, or raise :class:`BudgetExceededError`.

        Raises:
            BudgetExceededError: the limit is used up, or the room left (net of
                other calls' reservations) is smaller than ``usd``.
        """
        usd = max(0.0, float(usd))
        with self._lock:
            reserved = sum(self._open.values())
            if self._spent >= self.limit_usd - _EPSILON:
                raise BudgetExceededError(
                    f"the spending budget of ${self.limit_usd:.2f} is used up "
                    f"(${self._spent:.2f} spent); raise it or start a new period."
                )
            if self._spent + reserved + usd > self.limit_usd + _EPSILON:
                raise BudgetExceededError(
                    f"this call may cost up to ${usd:.4f}, and the budget of "
                    f"${self.limit_usd:.2f} has ${self.limit_usd - self._spent - reserved:.4f} "
                    f"left (${self._spent:.4f} spent, ${reserved:.4f} reserved by calls in "
                    "flight); lower max_tokens, raise the limit or retry when calls finish."
                )
            reservation = Reservation(next(self._ids), usd)
            self._open[reservation.id] = usd
        return reservation

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Charge the call's actual cost and release its reservation (once)."""
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return  # settled or released already
            self._spent += max(0.0, float(actual_usd))

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back without charging (a cache hit, a failed call)."""
        with self._lock:
            self._open.pop(reservation.id, None)

    def charge(self, usd: float) -> None:
        """Charge ``usd`` without a reservation (spend reported after the fact)."""
        with self._lock:
            self._spent += max(0.0, float(usd))

    @property
    def spent_usd(self) -> float:
        return self._spent

    @property
    def reserved_usd(self) -> float:
        with self._lock:
            return float(sum(self._open.values()))

    @property
    def remaining_share(self) -> float:
        return max(0.0, 1.0 - self._spent / self.limit_usd)

    @property
    def state(self) -> Literal["ok", "low", "exhausted"]:
        share = self.remaining_share
        if share <= 0.0:
            return "exhausted"
        return "low" if share < self.low_share else "ok"

    def check(self) -> None:
        """Invariants: spend and reservations are never negative."""
        with self._lock:
            if self._spent < 0 or any(v < 0 for v in self._open.values()):
                raise AssertionError(f"negative spend or reservation in {self!r}")

    def __repr__(self) -> str:
        return (
            f"SpendBudget(limit_usd={self.limit_usd}, spent_usd={self._spent:.6f}, "
            f"open_reservations={len(self._open)})"
        )
