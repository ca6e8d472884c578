"""Spend control: limits reserved before a call and settled after, in one process or
shared through Redis; alerts on thresholds, anomalies and forecasts."""

from tokenomy.budget.alerts import (
    DEFAULT_THRESHOLDS,
    Alert,
    Alerts,
    AlertSink,
    CallbackSink,
    LoggingSink,
    WebhookSink,
)
from tokenomy.budget.anomaly import SpendAnomaly, SpendAnomalyDetector
from tokenomy.budget.base import Budget, BudgetStatus, Reservation
from tokenomy.budget.experiments import (
    Experiment,
    ExperimentLog,
    ExperimentReport,
    experiment_report,
)
from tokenomy.budget.forecast import SpendForecast, forecast_alert, forecast_spend
from tokenomy.budget.limits import Limit
from tokenomy.budget.redis import RedisBudget
from tokenomy.budget.spend import SpendBudget

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Alert",
    "AlertSink",
    "Alerts",
    "Budget",
    "BudgetStatus",
    "CallbackSink",
    "Experiment",
    "ExperimentLog",
    "ExperimentReport",
    "Limit",
    "LoggingSink",
    "RedisBudget",
    "Reservation",
    "SpendAnomaly",
    "SpendAnomalyDetector",
    "SpendBudget",
    "SpendForecast",
    "WebhookSink",
    "experiment_report",
    "forecast_alert",
    "forecast_spend",
]
