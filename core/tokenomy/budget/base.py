"""The budget interface the pipeline reserves against, and what both backends share.

A call reserves its upper-bound cost before it starts (``reserve``), and settles to
its actual cost when it ends (``settle``) or gives the reservation back
(``release``: a cache hit, a failed call). ``labels`` say who and what the call is
for (``{"user": "u1", "feature": "rag", "model": "gpt-4o"}``); each
:class:`~tokenomy.budget.Limit` that covers the labels must have room, or the call
is refused with :class:`~tokenomy.errors.BudgetExceededError` naming the limit.

Backends: :class:`~tokenomy.budget.SpendBudget` (one process's memory) and
:class:`~tokenomy.budget.RedisBudget` (every process and machine sharing a Redis).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tokenomy.budget.alerts import Alert, Alerts
from tokenomy.budget.limits import Account, Limit
from tokenomy.errors import ConfigError

__all__ = [
    "EPSILON",
    "Budget",
    "BudgetStatus",
    "Refusal",
    "Reservation",
    "fair_shares",
    "refusal",
]

EPSILON = 1e-9
"""Float slack in USD, so that five $1 reservations fit a $5 limit."""

State = Literal["ok", "low", "exhausted"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one call: settle or release it exactly once."""

    id: int
    usd: float


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """How much of the tightest limit covering a call is left (what a router reads).

    Attributes:
        limit_usd: that limit (inf when no hard limit covers the call).
        spent_usd: spent in its current window.
        low_share: its ``low_share``.
        limit: its name, or ``""``.
    """

    limit_usd: float
    spent_usd: float
    low_share: float = 0.2
    limit: str = ""

    @property
    def remaining_share(self) -> float:
        if math.isinf(self.limit_usd):
            return 1.0
        return max(0.0, 1.0 - self.spent_usd / self.limit_usd)

    @property
    def state(self) -> State:
        """``"ok"``, ``"low"`` (under ``low_share`` left: prefer cheaper models) or
        ``"exhausted"``."""
        share = self.remaining_share
        if share <= 0.0:
            return "exhausted"
        return "low" if share < self.low_share else "ok"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a limit has no room for a call (the numbers behind the error message)."""

    limit: Limit
    account: Account
    reason: Literal["used up", "no room", "fair share"]
    spent_usd: float
    reserved_usd: float
    usd: float
    tenant_used_usd: float = 0.0

    def message(self) -> str:
        lim, acct = self.limit, self.account
        whole = lim.name == "total"  # SpendBudget(limit_usd): its message of old
        name = f"the spending budget of ${lim.usd:.2f}" if whole else lim.describe(acct.value)
        resets = _resets(acct.resets_at)
        if self.reason == "used up":
            return f"{name} is used up (${self.spent_usd:.2f} spent); raise it or " + (
                f"wait until it resets ({resets})." if resets else "start a new period."
            )
        left = lim.usd - self.spent_usd - self.reserved_usd
        name = f"the budget of ${lim.usd:.2f}" if whole else name
        text = (
            f"this call may cost up to ${self.usd:.4f}, and {name} has ${left:.4f} left "
            f"(${self.spent_usd:.4f} spent, ${self.reserved_usd:.4f} reserved by calls in "
            "flight)"
        )
        if self.reason == "fair share":
            text += (
                f"; the rest is held for the other tenants' shares ({lim.fair_by} "
                f"{acct.tenant or 'unlisted'!r} has used ${self.tenant_used_usd:.4f})"
            )
        return text + "; lower max_tokens, raise the limit or retry when calls finish."


def refusal(
    limit: Limit,
    account: Account,
    spent: Mapping[str, float],
    reserved: Mapping[str, float],
    usd: float,
) -> Refusal | None:
    """Whether ``limit`` refuses a call of ``usd`` on ``account``: the one rule both
    backends apply (the Redis Lua script mirrors it).

    ``spent`` and ``reserved`` are the account's window totals per tenant (``""``
    without fair sharing). A call is refused when the limit is used up, when
    ``spent + reserved + usd`` would pass it, or (fair sharing) when it would eat
    into the part of another listed tenant's share that tenant has not used yet.
    """
    if limit.action != "block":
        return None
    total_spent = sum(spent.values())
    total_reserved = sum(reserved.values())
    used = total_spent + total_reserved

    def refused(reason: Literal["used up", "no room", "fair share"]) -> Refusal:
        mine = spent.get(account.tenant, 0.0) + reserved.get(account.tenant, 0.0)
        return Refusal(limit, account, reason, total_spent, total_reserved, usd, mine)

    if total_spent >= limit.usd - EPSILON:
        return refused("used up")
    if used + usd > limit.usd + EPSILON:
        return refused("no room")
    if limit.weights:
        held = sum(
            limit.guaranteed * max(0.0, share - spent.get(t, 0.0) - reserved.get(t, 0.0))
            for t, share in fair_shares(limit).items()
            if t != account.tenant
        )
        if used + usd + held > limit.usd + EPSILON:
            return refused("fair share")
    return None


def fair_shares(limit: Limit) -> dict[str, float]:
    """Each listed tenant's share of the limit, in USD (``"*"``: all unlisted ones)."""
    total = sum(limit.weights.values())
    return {t: limit.usd * w / total for t, w in limit.weights.items()}


class Budget(ABC):
    """Spend limits that calls reserve against before they start and settle after.

    Subclasses implement the ``_reserve``/``_settle``/``_release``/``_totals`` hooks;
    the public methods validate, stamp the time and fire threshold alerts.

    Args:
        limits: the limits (at least one); names must be distinct.
        alerts: where threshold alerts go (default None: no alerts).
        clock: epoch seconds (default ``time.time``; windows are UTC).
    """

    def __init__(
        self,
        *,
        limits: Sequence[Limit],
        alerts: Alerts | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        chosen = tuple(limits)
        if not chosen:
            raise ConfigError("a budget needs at least one Limit, e.g. limits=[Limit(usd=50)].")
        for lim in chosen:
            if not isinstance(lim, Limit):
                raise ConfigError(
                    f"limits must be tokenomy.budget.Limit objects; got {type(lim).__name__}."
                )
        names = [lim.name for lim in chosen]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigError(
                f"two limits share the name(s) {doubled}; give each Limit a distinct name=."
            )
        if alerts is not None and not isinstance(alerts, Alerts):
            raise ConfigError(f"alerts must be a tokenomy.budget.Alerts; got {alerts!r}.")
        self.limits = chosen
        self.alerts = alerts
        self.clock = clock
        self._fired: dict[str, float] = {}
        self._fired_lock = threading.Lock()

    # -- the interface the pipeline calls -------------------------------------------------

    def reserve(self, usd: float, *, labels: Mapping[str, str] | None = None) -> Reservation:
        """Set ``usd`` aside for a call with ``labels``, or refuse it.

        Raises:
            BudgetExceededError: a hard limit covering the call is used up, or has
                less room left (net of calls in flight) than ``usd``.
        """
        return self._reserve(_usd(usd), _labels(labels), self.clock())

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Charge the call's actual cost and release its reservation (once; a repeat
        is a no-op)."""
        self._settle(reservation, _usd(actual_usd), self.clock())

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back without charging (a cache hit, a failed call)."""
        self._release(reservation, self.clock())

    def charge(self, usd: float, *, labels: Mapping[str, str] | None = None) -> None:
        """Charge ``usd`` without a reservation (spend reported after the fact); never
        refused."""
        reservation = self._reserve(0.0, _labels(labels), self.clock(), force=True)
        self._settle(reservation, _usd(usd), self.clock())

    def status(self, labels: Mapping[str, str] | None = None) -> BudgetStatus:
        """The tightest hard limit covering ``labels``, as this process last saw it
        (no round trip).

        Under a fair-shared limit the status is the tenant's own: what it has used
        against what it may still take (its share, plus the free room that is not
        held for others), and a tenant of lower weight turns ``"low"`` sooner:
        at ``low_share * max weight / its weight`` left (capped at 0.9), so its
        calls go to cheaper models first.
        """
        now = self.clock()
        best = BudgetStatus(math.inf, 0.0)
        for lim in self.limits:
            account = lim.account(_labels(labels), now=now)
            if account is None or lim.action != "block":
                continue
            status = self._status(lim, account)
            if status.remaining_share < best.remaining_share or math.isinf(best.limit_usd):
                best = status
        return best

    def _status(self, limit: Limit, account: Account) -> BudgetStatus:
        spent, reserved = self._totals(limit, account)
        if not limit.weights:
            return BudgetStatus(limit.usd, sum(spent.values()), limit.low_share, limit.name)
        tenant = account.tenant
        used = {t: spent.get(t, 0.0) + reserved.get(t, 0.0) for t in {*spent, *reserved}}
        held = sum(
            limit.guaranteed * max(0.0, share - used.get(t, 0.0))
            for t, share in fair_shares(limit).items()
            if t != tenant
        )
        mine = used.get(tenant, 0.0)
        room = max(0.0, limit.usd - sum(used.values()) - held)
        top = max(limit.weights.values())
        weight = limit.weights.get(tenant, min(limit.weights.values()))
        low = min(0.9, limit.low_share * top / weight)
        if room <= EPSILON:
            return BudgetStatus(1.0, 1.0, low, limit.name)  # nothing left for this tenant
        return BudgetStatus(mine + room, mine, low, limit.name)

    # -- the router's view (BudgetView): the limits every call is covered by -------------

    @property
    def limit_usd(self) -> float:
        return self.status().limit_usd

    @property
    def spent_usd(self) -> float:
        return self.status().spent_usd

    @property
    def low_share(self) -> float:
        return self.status().low_share

    @property
    def remaining_share(self) -> float:
        return self.status().remaining_share

    @property
    def state(self) -> State:
        return self.status().state

    def check(self) -> None:  # noqa: B027 - a backend with invariants overrides it
        """Invariants (tests call it at the end); raise AssertionError if broken."""

    # -- backend hooks ----------------------------------------------------------------------

    @abstractmethod
    def _reserve(
        self, usd: float, labels: Mapping[str, str], now: float, *, force: bool = False
    ) -> Reservation:
        """Reserve on every covering limit's account, all or none; ``force`` skips the
        room check (a charge after the fact)."""

    @abstractmethod
    def _settle(self, reservation: Reservation, usd: float, now: float) -> None: ...

    @abstractmethod
    def _release(self, reservation: Reservation, now: float) -> None: ...

    @abstractmethod
    def _totals(self, limit: Limit, account: Account) -> tuple[dict[str, float], dict[str, float]]:
        """Spent and reserved in ``account``'s window, per tenant, as last known."""

    # -- shared by backends -------------------------------------------------------------------

    def _accounts(self, labels: Mapping[str, str], now: float) -> list[tuple[Limit, Account]]:
        out = []
        for lim in self.limits:
            account = lim.account(labels, now=now)
            if account is not None:
                out.append((lim, account))
        return out

    def _once(self, key: str, expires_at: float) -> bool:
        """Whether an alert key fires now (local memory; RedisBudget shares it)."""
        now = self.clock()
        with self._fired_lock:
            for k in [k for k, until in self._fired.items() if until < now]:
                del self._fired[k]
            if key in self._fired:
                return False
            self._fired[key] = expires_at
            return True

    def _crossed(
        self, limit: Limit, account: Account, spent: float, refused_usd: float = 0.0
    ) -> None:
        """Fire each threshold ``spent`` has crossed on ``account``, once per window;
        100% also fires when a call is refused for want of room (``refused_usd``)."""
        alerts = self.alerts
        if alerts is None:
            return
        share = spent / limit.usd
        for threshold in alerts.thresholds:
            full = threshold >= 1.0 and refused_usd > 0
            if share + EPSILON < threshold and not full:
                continue
            key = f"{account.key}|{threshold:g}"
            if limit.rolling:  # a rolling window has no period: once per window length
                key += f"|{math.floor(self.clock() / limit.length_s)}"
            hit = "reached" if threshold >= 1.0 else f"{threshold:.0%} spent"
            message = f"{limit.describe(account.value)}: {hit} (${spent:.2f} spent)"
            if refused_usd:
                message += f"; a call of up to ${refused_usd:.4f} was refused"
            elif limit.action == "alert":
                message += " (a soft limit: calls go on)"
            resets = _resets(account.resets_at)
            message += f"; it resets {resets}" if resets else ""
            alerts.emit(
                Alert(
                    "threshold",
                    message,
                    key,
                    limit=limit.name,
                    value=account.value,
                    threshold=threshold,
                    spent_usd=spent,
                    limit_usd=limit.usd,
                    at=self.clock(),
                    details={"action": limit.action, "window": limit.window},
                ),
                once=lambda k: self._once(k, account.expires_at),
            )


def _usd(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"an amount in USD must be a number; got {value!r}.")
    return max(0.0, float(value))


def _labels(labels: Mapping[str, str] | None) -> Mapping[str, str]:
    if not labels:
        return {}
    return {str(k): str(v) for k, v in labels.items() if v is not None}


def _resets(at: float | None) -> str:
    if at is None or not math.isfinite(at):
        return ""
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
