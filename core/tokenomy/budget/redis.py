"""Spend limits shared by every process and machine, enforced atomically in Redis.

Each reserve, settle and release is one Lua script (:mod:`tokenomy.budget._lua`)
over the accounts of the limits that cover the call, so two processes can never
both take the last dollar. Calendar windows are keys that expire when the period
ends (plus an hour for late settles); rolling windows are 60 bucket fields, pruned
as they leave the window.

**When Redis is down.** A reserve or settle that cannot reach Redis switches this
budget object to a local fallback (logged once per outage): each covering limit
may then take, in this process, at most ``fallback_share`` of the limit and no more
than the room left when Redis was last seen (spend and reservations of every
process). A background thread tries Redis every ``retry_s`` seconds; when it
answers, this process writes back its whole spend in every live window (absolute
totals per process, kept only if larger, so a replay never counts twice) and its
open reservations, and shared enforcement resumes. Every script checks the store's
*generation* (a token it keeps): a Redis that restarted empty is noticed even by a
process that saw no error, and every process then keeps to its fallback share for
``rejoin_s`` seconds while all of them write their spend back.

The bound: with P processes, an outage can take a window's spend past the limit by
at most ``P * fallback_share * limit`` (what the processes may spend on their own),
and not at all if the outage begins with at least that much room left; once Redis
is back and refilled, no further call passes the limit. Spend is never lost or
counted twice, as long as the process that made it is alive (and reconnects within
``rejoin_s``) when Redis returns.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tokenomy.budget._lua import RECONCILE, RESERVE, SETTLE
from tokenomy.budget.alerts import Alerts
from tokenomy.budget.base import Budget, Refusal, Reservation, fair_shares, refusal
from tokenomy.budget.limits import Account, Limit
from tokenomy.budget.spend import _Book
from tokenomy.errors import BudgetExceededError, ConfigError

__all__ = ["DEFAULT_FALLBACK_SHARE", "RedisBudget"]

log = logging.getLogger(__name__)

DEFAULT_FALLBACK_SHARE = 0.1
"""Share of each limit one process may spend while Redis is unreachable."""

_NANO = 1e9
_GRACE_S = 3600.0  # keys outlive their window by this much, for late settles
_REASONS = {1: "used up", 2: "no room", 3: "fair share"}
_PRUNE_EVERY_S = 1.0


def _nanos(usd: float) -> int:
    return round(usd * _NANO)


def _ms(seconds: float) -> int:
    return 0 if not math.isfinite(seconds) else int(seconds * 1000)


@dataclass
class _Mine:
    """What this process has spent in one account, per (bucket, tenant): absolute."""

    account: Account
    spent: dict[tuple[int, str], float] = field(default_factory=lambda: defaultdict(float))


@dataclass(frozen=True)
class _Held:
    usd: float
    pairs: list[tuple[Limit, Account]]
    remote: bool  # reserved in Redis (False: in the local fallback)


class RedisBudget(Budget):
    """Spend limits shared through Redis by every process and machine.

    Args:
        url: e.g. ``"redis://127.0.0.1:6379/0"`` (or pass ``client``).
        limits: the :class:`~tokenomy.budget.Limit` objects (same in every process).
        client: a ready ``redis.Redis``.
        prefix: key prefix (default ``"tokenomy:budget:"``); budgets sharing it
            share spend.
        fallback_share: with Redis unreachable, the share of each limit this
            process may spend on its own, in [0, 1] (default 0.1; 0 refuses every
            call covered by a hard limit until Redis returns).
        retry_s: seconds between attempts to reach Redis again (default 1).
        rejoin_s: after Redis restarted empty, how long a process that wrote its
            spend back keeps to its fallback share while the other processes do the
            same (default 5 s; every live process must reconnect within it, and
            each tries every ``retry_s``).
        reservation_ttl_s: a reservation still open after this long stops counting
            (its process died); default 600 s: longer than any call.
        timeout_s: socket connect/read timeout in seconds (default 1; a slower
            answer counts as an outage, so keep it above the store's worst latency).
        alerts: where threshold alerts go; each fires once per window across all
            processes (default None).
        clock: epoch seconds (default ``time.time``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        limits: Sequence[Limit],
        client: Any = None,
        prefix: str = "tokenomy:budget:",
        fallback_share: float = DEFAULT_FALLBACK_SHARE,
        retry_s: float = 1.0,
        rejoin_s: float = 5.0,
        reservation_ttl_s: float = 600.0,
        timeout_s: float = 1.0,
        alerts: Alerts | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(limits=limits, alerts=alerts, clock=clock)
        if client is None and not url:
            raise ConfigError(
                "RedisBudget needs url='redis://host:port' or client=redis.Redis(...)."
            )
        if not 0.0 <= fallback_share <= 1.0:
            raise ConfigError(f"fallback_share must be in [0, 1]; got {fallback_share!r}.")
        if min(retry_s, rejoin_s, reservation_ttl_s, timeout_s) <= 0:
            raise ConfigError(
                "retry_s, rejoin_s, reservation_ttl_s and timeout_s must be > 0 (seconds); "
                f"got {retry_s!r}, {rejoin_s!r}, {reservation_ttl_s!r}, {timeout_s!r}."
            )
        from tokenomy._optional import require

        redis = require("redis", feature="the shared Redis budget", extra="redis")
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self.url = url or "(client)"
        self.prefix = prefix
        self.fallback_share = fallback_share
        self.retry_s = retry_s
        self.rejoin_s = rejoin_s
        self.reservation_ttl_s = reservation_ttl_s
        self.instance = uuid.uuid4().hex[:16]
        self._reserve_script = self._client.register_script(RESERVE)
        self._settle_script = self._client.register_script(SETTLE)
        self._reconcile_script = self._client.register_script(RECONCILE)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._reconciling = threading.Lock()
        self._open: dict[int, _Held] = {}
        self._mine: dict[str, _Mine] = {}
        self._seen: dict[str, tuple[float, float]] = {}  # key -> (spent, reserved) last seen
        self._tenants: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        self._outage: dict[str, _Book] = {}  # fallback spend and reservations, per key
        self._version = 0  # bumps on every change of _mine
        self._generation: str | None = None  # the store's, as this process last knew it
        self._generation_key = f"{prefix}generation"
        self._down_since: float | None = None
        self._recovery: threading.Thread | None = None
        self._closed = threading.Event()
        self._pruned_at = 0.0
        self.outages = 0
        """Times this budget fell back to local enforcement."""
        self.fallback_spent_usd = 0.0
        """Spend settled on reservations made while Redis was unreachable."""

    @property
    def connected(self) -> bool:
        """False while this budget enforces its local fallback share."""
        return self._down_since is None

    # -- reserve ------------------------------------------------------------------------

    def _reserve(
        self, usd: float, labels: Mapping[str, str], now: float, *, force: bool = False
    ) -> Reservation:
        pairs = self._accounts(labels, now)
        reservation = Reservation(next(self._ids), usd)
        with self._lock:
            self._prune(now)
            for _, account in pairs:
                self._mine_of(account)
        if pairs and self._usable(now):
            try:
                reply = self._reserve_script(
                    keys=[self._generation_key, *(self._key(a) for _, a in pairs)],
                    args=self._reserve_args(reservation, pairs, now, force),
                )
            except self._errors as exc:
                self._fall_back(f"{type(exc).__name__}: {exc}", now)
            else:
                if reply[0] != -1:
                    return self._reserved(reservation, pairs, reply)
                self._fall_back("it restarted empty (its generation changed)", now)
        return self._reserve_locally(reservation, pairs, force)

    def _reserve_args(
        self, reservation: Reservation, pairs: list[tuple[Limit, Account]], now: float, force: bool
    ) -> list[Any]:
        deadline = _ms(now + self.reservation_ttl_s)
        args: list[Any] = [self._generation, self._rid(reservation.id), _nanos(reservation.usd)]
        args += [_ms(now), deadline, 1 if force else 0]
        for lim, account in pairs:
            shares = fair_shares(lim) if lim.weights else {}
            args += [
                _nanos(lim.usd) if lim.action == "block" else -1,
                account.live_from,
                _ms(account.expires_at + _GRACE_S),
                account.tenant,
                lim.guaranteed,
                len(shares),
            ]
            for tenant, share in shares.items():
                args += [tenant, _nanos(share)]
        return args

    def _reserved(
        self, reservation: Reservation, pairs: list[tuple[Limit, Account]], reply: list[Any]
    ) -> Reservation:
        if reply[0] == 0:
            _, index, reason, spent, reserved, mine = (int(x) for x in reply)
            lim, account = pairs[index - 1]
            refused = Refusal(
                lim,
                account,
                _REASONS[reason],  # type: ignore[arg-type]
                spent / _NANO,
                reserved / _NANO,
                reservation.usd,
                mine / _NANO,
            )
            self._saw([account], [spent, reserved])  # may arrive after a later settle's
            self._refuse(refused)
        totals: list[int] = []
        at = 1
        with self._lock:
            for _, account in pairs:
                totals += [int(reply[at]), int(reply[at + 1])]
                n, at = int(reply[at + 2]), at + 3
                if n:  # a fair-shared limit: each listed tenant's use, as seen now
                    rows = [reply[at + 3 * j : at + 3 * j + 3] for j in range(n)]
                    self._tenants[account.key] = (
                        {_text(t): int(s) / _NANO for t, s, _ in rows},
                        {_text(t): int(r) / _NANO for t, _, r in rows},
                    )
                at += 3 * n
            self._open[reservation.id] = _Held(reservation.usd, pairs, remote=True)
        self._saw([a for _, a in pairs], totals)
        return reservation

    def _saw(self, accounts: list[Account], totals: Sequence[int]) -> None:
        """Remember the (spent, reserved) pairs a script returned, per account."""
        with self._lock:
            for i, account in enumerate(accounts):
                spent, reserved = totals[2 * i] / _NANO, totals[2 * i + 1] / _NANO
                if account.live_from == account.bucket:  # not rolling: spend only grows,
                    # so a reply overtaken by a later one cannot make it look smaller
                    spent = max(spent, self._seen.get(account.key, (0.0, 0.0))[0])
                self._seen[account.key] = (spent, reserved)

    def _reserve_locally(
        self, reservation: Reservation, pairs: list[tuple[Limit, Account]], force: bool
    ) -> Reservation:
        with self._lock:
            for lim, account in pairs:
                book = self._outage.setdefault(account.key, _Book(account.expires_at))
                spent, reserved = book.window(account)
                if force or lim.action != "block":
                    continue
                allowance = self._allowance(lim, account)
                share = replace(lim, usd=max(allowance, 1e-12))
                refused = refusal(share, account, spent, reserved, reservation.usd)
                if refused is not None:
                    break
            else:
                for _, account in pairs:
                    self._outage[account.key].open[reservation.id] = (
                        reservation.usd,
                        account.tenant,
                    )
                self._open[reservation.id] = _Held(reservation.usd, pairs, remote=not pairs)
                return reservation
        raise BudgetExceededError(
            f"this call may cost up to ${reservation.usd:.4f}, and this process's fallback "
            f"share of {lim.describe(account.value)} has "
            f"${max(0.0, allowance - refused.spent_usd - refused.reserved_usd):.4f} left "
            f"(${refused.spent_usd:.4f} spent, ${refused.reserved_usd:.4f} reserved here) while "
            f"the shared budget store {self.url} is unreachable: each process may spend "
            f"{self.fallback_share:.0%} of a limit on its own until it returns. Retry later."
        )

    def _allowance(self, limit: Limit, account: Account) -> float:
        """What this process may spend on ``account`` while Redis is down."""
        spent, reserved = self._seen.get(account.key, (0.0, 0.0))
        return min(self.fallback_share * limit.usd, max(0.0, limit.usd - spent - reserved))

    def _refuse(self, refused: Refusal) -> None:
        if refused.reason != "fair share":
            self._crossed(refused.limit, refused.account, refused.spent_usd, refused.usd)
        raise BudgetExceededError(refused.message())

    # -- settle and release ---------------------------------------------------------------

    def _settle(self, reservation: Reservation, usd: float, now: float) -> None:
        self._close(reservation, usd, now)

    def _release(self, reservation: Reservation, now: float) -> None:
        self._close(reservation, None, now)

    def _close(self, reservation: Reservation, usd: float | None, now: float) -> None:
        with self._lock:
            held = self._open.pop(reservation.id, None)
            if held is None:
                return  # settled or released already
            if not held.remote and usd:
                self.fallback_spent_usd += usd
            args: list[Any] = [self._generation, self._rid(reservation.id), _ms(now)]
            for _, account in held.pairs:
                book = self._outage.get(account.key)
                local = book.open.pop(reservation.id, None) if book is not None else None
                if book is not None and local is not None and usd:  # fallback spend
                    book.spent[(account.bucket, account.tenant)] += usd
                fname, value = "", 0
                if usd is not None:
                    mine = self._mine_of(account)
                    mine.spent[(account.bucket, account.tenant)] += usd
                    fname, value = (
                        self._field(account),
                        _nanos(mine.spent[(account.bucket, account.tenant)]),
                    )
                args += [account.live_from, _ms(account.expires_at + _GRACE_S), fname, value]
            self._version += 1
            up = self._down_since is None
        if not held.pairs:
            return
        if up:
            try:
                reply = self._settle_script(
                    keys=[self._generation_key, *(self._key(a) for _, a in held.pairs)],
                    args=args,
                )
            except self._errors as exc:
                self._fall_back(f"{type(exc).__name__}: {exc}", now)
            else:
                if reply and reply[0] == -1:
                    self._fall_back("it restarted empty (its generation changed)", now)
                else:
                    self._saw([a for _, a in held.pairs], reply)
        if usd is not None and self.alerts is not None:
            for lim, account in held.pairs:
                self._crossed(lim, account, self._spent_now(account))

    # -- connection, outage and recovery -----------------------------------------------------

    def _usable(self, now: float) -> bool:
        """Whether to go to Redis now (first use: adopt the store's generation)."""
        if self._down_since is not None:
            return False
        if self._generation is not None:
            return True
        with self._reconciling:
            if self._generation is None:
                try:
                    self._reconcile(now)
                except self._errors as exc:
                    self._fall_back(f"{type(exc).__name__}: {exc}", now)
                    return False
        return self._down_since is None

    def _fall_back(self, why: str, now: float) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = now
            self.outages += 1
            if self._recovery is None or not self._recovery.is_alive():
                self._recovery = threading.Thread(
                    target=self._recover, name="tokenomy-budget-recovery", daemon=True
                )
                self._recovery.start()
        log.warning(
            "tokenomy: the shared budget store %s cannot be used (%s); each limit now allows "
            "this process %.0f%% of it on its own until Redis answers again (retried every "
            "%.2f s).",
            self.url,
            why,
            100 * self.fallback_share,
            self.retry_s,
        )

    def _recover(self) -> None:
        """Every ``retry_s``: write this process's spend back; switch to Redis once it
        holds everything. After a store restarted empty, wait ``rejoin_s`` first, so
        that every other live process has written its spend back too."""
        quiet_until = 0.0
        while not self._closed.wait(self.retry_s):
            try:
                state = self._reconcile(self.clock(), switch=time.monotonic() >= quiet_until)
            except self._errors:
                continue
            if state == "lost":
                quiet_until = time.monotonic() + self.rejoin_s
                log.warning(
                    "tokenomy: the shared budget store %s restarted empty; this process "
                    "wrote its spend back and keeps its fallback share for %.2f s while the "
                    "others do.",
                    self.url,
                    self.rejoin_s,
                )
            elif state == "connected":
                return

    def _reconcile(
        self, now: float, *, switch: bool = True
    ) -> Literal["connected", "lost", "waiting"]:
        """Write this process's spend and open reservations back and adopt the store's
        generation (``"lost"``: it is not the one this process knew); with ``switch``,
        go back to Redis if nothing was settled meanwhile."""
        with self._lock:
            version, known = self._version, self._generation
            keys, args = self._reconcile_args(now)
        reply = self._reconcile_script(keys=[self._generation_key, *keys], args=args)
        with self._lock:
            self._generation = _text(reply[0])
            for i, key in enumerate(keys):
                acct = key[len(self.prefix) :]
                self._seen[acct] = (reply[1 + 2 * i] / _NANO, reply[2 + 2 * i] / _NANO)
            if known is not None and self._generation != known:
                return "lost"
            if self._down_since is None:
                return "connected"
            if not switch or version != self._version:
                return "waiting"
            self._down_since = None
            self._outage.clear()
        log.info(
            "tokenomy: the shared budget store %s answers again; this process's spend in "
            "%d accounts was written back.",
            self.url,
            len(keys),
        )
        return "connected"

    def _reconcile_args(self, now: float) -> tuple[list[str], list[Any]]:
        open_by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
        deadline = _ms(now + self.reservation_ttl_s)
        for rid, held in self._open.items():
            for _, account in held.pairs:
                value = f"{_nanos(held.usd)}:{deadline}:{account.tenant}"
                open_by_key[account.key].append((self._rid(rid), value))
        keys: list[str] = []
        args: list[Any] = [uuid.uuid4().hex, f"r:{self.instance}.", _ms(now)]
        for key, mine in self._mine.items():
            spent = [
                (f"s:{bucket}:{self.instance}:{tenant}", _nanos(usd))
                for (bucket, tenant), usd in mine.spent.items()
            ]
            opened = open_by_key.get(key, [])
            keys.append(self.prefix + key)
            args += [mine.account.live_from, _ms(mine.account.expires_at + _GRACE_S)]
            args += [len(spent), len(opened)]
            for pair in (*spent, *opened):
                args += list(pair)
        return keys, args

    def close(self) -> None:
        """Stop retrying and close the connection pool."""
        self._closed.set()
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    # -- what this process knows ---------------------------------------------------------------

    def _totals(self, limit: Limit, account: Account) -> tuple[dict[str, float], dict[str, float]]:
        with self._lock:
            if limit.weights and account.key in self._tenants:
                spent_by, reserved_by = self._tenants[account.key]
                return dict(spent_by), dict(reserved_by)
            spent, reserved = self._seen.get(account.key, (0.0, 0.0))
            book = self._outage.get(account.key)
            if book is not None:
                extra, held = book.window(account)
                spent += sum(extra.values())
                reserved += sum(held.values())
        return {"": spent}, {"": reserved}

    def _spent_now(self, account: Account) -> float:
        with self._lock:
            spent = self._seen.get(account.key, (0.0, 0.0))[0]
            book = self._outage.get(account.key)
            return spent + (sum(book.window(account)[0].values()) if book is not None else 0.0)

    def fetch(self, labels: Mapping[str, str] | None = None) -> dict[str, tuple[float, float]]:
        """Spent and reserved USD in Redis now, per limit covering ``labels`` (one read;
        for reports and tests)."""
        now = self.clock()
        out = {}
        for lim, account in self._accounts(dict(labels or {}), now):
            spent = reserved = 0
            fields = self._client.hgetall(self._key(account))
            for name, value in fields.items():
                name, value = _text(name), _text(value)
                if name.startswith("s:") and int(name.split(":")[1]) >= account.live_from:
                    spent += int(value)
                elif name.startswith("r:"):
                    n, deadline, _ = value.split(":", 2)
                    reserved += int(n) if int(deadline) >= _ms(now) else 0
            out[lim.name] = (spent / _NANO, reserved / _NANO)
        return out

    def _once(self, key: str, expires_at: float) -> bool:
        """An alert fires once per window across processes: SET NX in Redis."""
        if not super()._once(key, expires_at):
            return False
        if self._down_since is not None:
            return True
        try:
            ms = _ms(expires_at + _GRACE_S) or _ms(self.clock() + 400 * 86400)
            return bool(self._client.set(f"{self.prefix}alert:{key}", 1, nx=True, pxat=ms))
        except self._errors:
            return True  # better twice than never

    # -- helpers ---------------------------------------------------------------------------------

    def _key(self, account: Account) -> str:
        return self.prefix + account.key

    def _rid(self, n: int) -> str:
        return f"r:{self.instance}.{n}"

    def _field(self, account: Account) -> str:
        return f"s:{account.bucket}:{self.instance}:{account.tenant}"

    def _mine_of(self, account: Account) -> _Mine:
        mine = self._mine.get(account.key)
        if mine is None or mine.account.live_from < account.live_from:
            mine = self._mine.setdefault(account.key, _Mine(account))
            mine.account = account
        return mine

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = now
        for key, mine in list(self._mine.items()):
            if mine.account.expires_at + _GRACE_S < now:
                del self._mine[key]
                self._seen.pop(key, None)
            else:
                for k in [k for k in mine.spent if k[0] < mine.account.live_from]:
                    del mine.spent[k]

    def check(self) -> None:
        with self._lock:
            for key, mine in self._mine.items():
                if any(v < 0 for v in mine.spent.values()):
                    raise AssertionError(f"negative spend in account {key!r}")

    def __repr__(self) -> str:
        state = "connected" if self.connected else "fallback"
        return f"RedisBudget(url={self.url!r}, limits={[x.name for x in self.limits]}, {state})"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
