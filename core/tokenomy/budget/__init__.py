"""Spend limits: reserve an upper bound before a call, settle to the actual cost after."""

from tokenomy.budget.spend import Reservation, SpendBudget

__all__ = ["Reservation", "SpendBudget"]
