"""Model routing: complexity features, a model table, a router that learns, cascades, fallbacks."""

from tokenomy.route.cascade import (
    Attempt,
    Cascade,
    CascadeResult,
    FallbackChain,
    is_context_overflow,
)
from tokenomy.route.features import FEATURE_NAMES, complexity_features
from tokenomy.route.models import ModelSpec, ModelTable
from tokenomy.route.router import BudgetView, RouteDecision, Router

__all__ = [
    "FEATURE_NAMES",
    "Attempt",
    "BudgetView",
    "Cascade",
    "CascadeResult",
    "FallbackChain",
    "ModelSpec",
    "ModelTable",
    "RouteDecision",
    "Router",
    "complexity_features",
    "is_context_overflow",
]
