"""Usage ledger: one record per LLM call, attributed and summed by any tag and time bucket."""

from tokenomy.monitor.aggregate import Bucket, aggregate, bucket_start
from tokenomy.monitor.calllog import CallLog
from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.monitor.recorder import CallDetails, RecordObserver, UsageRecorder
from tokenomy.monitor.records import UsageRecord, UsageSummary
from tokenomy.monitor.sqlite import SQLiteLedger

__all__ = [
    "BaseLedger",
    "Bucket",
    "CallDetails",
    "CallLog",
    "InMemoryLedger",
    "RecordObserver",
    "SQLiteLedger",
    "UsageRecord",
    "UsageRecorder",
    "UsageSummary",
    "aggregate",
    "bucket_start",
]
