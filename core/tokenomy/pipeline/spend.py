"""The pipeline's spend stage: reserve a call's upper bound, charge its actual cost.

A call reserves the most it can cost before anything else runs (its prompt and its
answer cap, at the most expensive model it may go to) and settles to what it cost
once answered; a continuation of a cut answer reserves and settles its own part.
The reservation is what makes a budget hold under concurrency: a call the budget
cannot cover is refused before it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Final

from tokenomy.cache import Answer
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.pipeline.guard import Guard
from tokenomy.pipeline.request import Request, Sent, Trace
from tokenomy.route import Router
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter
from tokenomy.tokens.prices import ModelPrice, PriceTable
from tokenomy.tokens.usage import TokenUsage

if TYPE_CHECKING:
    from tokenomy.budget import Budget, Reservation

__all__ = ["REFUSED", "Refused", "SpendStage", "model_id"]


class Refused:
    """A continuation the budget refused (the loop stops; nothing to settle)."""


REFUSED: Final = Refused()


def model_id(sent: Sent, model: str | None) -> str | None:
    """The model a call went to: the routed name, else the request's model."""
    return model or sent.request.model


class SpendStage:
    """Reservations and charges against a budget, and the prices and token counts
    they need (also used to count a stream's output).

    Args:
        budget: the budget (None: nothing is reserved or charged).
        prices: the price table for unrouted models.
        router: prices the routed models (its table) and bounds a routed call by
            its most expensive candidate.
        models: the routed names the front door can call (None: the whole table).
        expected_output_tokens: the answer length reserved when no cap is set.
        guard: the pipeline's never-fail boundary.
    """

    def __init__(
        self,
        *,
        budget: Budget | None,
        prices: PriceTable,
        router: Router | None,
        models: Collection[str] | None,
        expected_output_tokens: int,
        guard: Guard,
    ) -> None:
        self.budget = budget
        self.prices = prices
        self.router = router
        self.models = models
        self.expected_output_tokens = expected_output_tokens
        self.guard = guard
        self._counters: dict[str, TokenCounter] = {}

    # -- the call's reservation -----------------------------------------------------------

    def reserve(self, request: Request, trace: Trace) -> Reservation | None:
        """Hold the call's upper bound; a refusal reaches the caller."""
        if self.budget is None:
            return None
        usd = self.upper_bound(request, trace)
        # the request's labels pick the limits (per user, feature, model, tag) it counts in
        reservation = self.budget.reserve(usd, labels=request.labels)  # errors reach the caller
        trace.add("budget", "reserved", f"${usd:.6f}")
        return reservation

    def upper_bound(self, request: Request, trace: Trace) -> float:
        """The most this call can cost: its prompt and its answer cap (or the expected
        answer) at the most expensive model it may go to."""
        output = request.max_tokens or self.expected_output_tokens
        if self.router is not None:
            specs = [m for m in self.router.models if self.models is None or m.name in self.models]
            tokens = self._bound_tokens(request, self.router.counter, trace)
            return max(m.cost_usd(tokens, output) for m in specs)
        price = self.price_of(request.model)
        tokens = self._bound_tokens(request, self.counter(request.model), trace)
        return price.cost(TokenUsage(tokens, output)).total_usd

    def price_of(self, model: str | None) -> ModelPrice:
        """The price of an unrouted ``model``, which a budget cannot hold without (see
        :meth:`Pipeline.check_priced <tokenomy.pipeline.Pipeline.check_priced>`).

        Raises:
            ConfigError: the price table does not know ``model``.
        """
        price = self.prices.get(model)
        if price is None and not model:
            raise ConfigError(
                "a spend budget needs the model's price, but the model has no name to "
                "look it up by (no model or model_name); use a named model (e.g. "
                "ChatOpenAI(model='gpt-4o-mini')) or route among named models."
            )
        if price is None:
            raise ConfigError(
                f"a spend budget needs the price of model {model!r}, which the price "
                "table does not know; pass prices=PriceTable.default().with_prices({"
                f"{model!r}: {{'input': usd_per_1m, 'output': usd_per_1m}}}})."
            )
        return price

    def _bound_tokens(self, request: Request, counter: TokenCounter, trace: Trace) -> int:
        """The prompt's tokens; if counting fails, its characters (never fewer)."""
        tokens = self.guard("budget", trace, lambda: count(request, counter))
        if tokens is not None:
            return tokens
        if request.prompt is not None:
            return len(request.prompt)
        return len(json.dumps([request.messages, request.tools], default=str))

    def charge(
        self,
        reservation: Reservation,
        sent: Sent,
        model: str | None,
        answer: Answer | None,
        trace: Trace,
    ) -> None:
        """Settle the reservation to the call's actual cost (to the reservation itself
        when the cost cannot be worked out)."""
        assert self.budget is not None
        cost = self.guard("settle", trace, lambda: self.cost(sent, model, answer))
        actual = reservation.usd if cost is None else cost
        self.budget.settle(reservation, actual)
        trace.add("budget", "charged", f"${actual:.6f}")

    def release(self, reservation: Reservation | Refused | None) -> None:
        """Give back what a call held and did not settle (a no-op once settled)."""
        if isinstance(reservation, Refused) or reservation is None or self.budget is None:
            return
        self.budget.release(reservation)

    # -- a continuation's part ------------------------------------------------------------

    def hold_part(self, ask: Sent, model: str | None, trace: Trace) -> Reservation | Refused | None:
        """Reserve a continuation call's upper bound (its prompt, which holds the answer
        so far, and its cap at the model that answered); :data:`REFUSED` when the budget
        refuses it, None without a budget."""
        budget = self.budget
        if budget is None:
            return None
        usd = self.guard("budget", trace, lambda: self._part_bound(ask, model))
        if usd is None:  # cannot be priced: the first call's bound stands in
            usd = self.upper_bound(ask.request, trace)
        try:
            held = budget.reserve(usd, labels=ask.request.labels)
        except BudgetExceededError as exc:
            trace.add("output", "not continued", f"the budget refused it: {exc}"[:200])
            return REFUSED
        trace.add("budget", "reserved", f"${usd:.6f} (continuation)")
        return held

    def _part_bound(self, ask: Sent, model: str | None) -> float:
        request = ask.request
        output = ask.max_tokens or request.max_tokens or self.expected_output_tokens
        counter = self.counter(model_id(ask, model))
        if ask.prompt is not None:
            tokens = counter.count(ask.prompt)
        else:
            tokens = counter.count_messages(ask.messages, tools=request.tools)
        return self._price(ask, model, TokenUsage(tokens, output), None)

    def settle_part(self, held: Reservation | Refused | None, usd: float | None) -> None:
        """Charge a continuation call its cost (its reservation when it cannot be
        priced)."""
        if held is not None and not isinstance(held, Refused) and self.budget is not None:
            self.budget.settle(held, held.usd if usd is None else usd)

    # -- prices and counts ----------------------------------------------------------------

    def cost(self, sent: Sent, model: str | None, answer: Answer | None) -> float:
        """What a call cost: its answer's usage, or counted tokens, at its model's price
        (times the answer's ``price_factor``: a Batch API job's discount)."""
        request = sent.request
        if answer is not None and answer.usage is not None:
            usage = answer.usage
        else:
            counter = self.counter(model_id(sent, model))
            tokens = count(request, counter, sent.messages)
            usage = TokenUsage(tokens, counter.count(answer.text) if answer is not None else 0)
        factor = answer.price_factor if answer is not None else 1.0
        return self._price(sent, model, usage, answer) * factor

    def _price(
        self, sent: Sent, model: str | None, usage: TokenUsage, answer: Answer | None
    ) -> float:
        if self.router is not None and model is not None and model in self.router.models.names:
            return self.router.models[model].cost_usd(usage.input_tokens, usage.output_tokens)
        price = self.prices.get(model_id(sent, model)) or self.prices.get(
            answer.model if answer is not None else None
        )
        if price is None:
            raise ConfigError(f"no price for model {model_id(sent, model)!r}")
        return price.cost(usage).total_usd

    def counter(self, model: str | None) -> TokenCounter:
        """The token counter of ``model`` (one per model, built once)."""
        name = model or DEFAULT_MODEL
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters.setdefault(name, TokenCounter(name))
        return counter


def count(request: Request, counter: TokenCounter, messages: Sequence[Any] | None = None) -> int:
    """The prompt tokens of ``request`` (of ``messages`` instead, when given)."""
    if request.prompt is not None:
        return counter.count(request.prompt)
    return counter.count_messages(messages or request.messages, tools=request.tools)
