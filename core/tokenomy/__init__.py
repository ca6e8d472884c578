"""tokenomy: spend fewer LLM tokens without rewriting your app.

The core imports no LangChain or LlamaIndex, and loads tiktoken, torch and
sentence-transformers only on first use.
"""

from tokenomy.errors import TokenomyError
from tokenomy.monitor import InMemoryLedger, SQLiteLedger, UsageRecord
from tokenomy.settings import Settings
from tokenomy.tokens import (
    PriceTable,
    TokenCounter,
    TokenUsage,
    count_tokens,
    estimate_cost,
    register_tokenizer,
)

__version__ = "0.1.0"

__all__ = [
    "InMemoryLedger",
    "PriceTable",
    "SQLiteLedger",
    "Settings",
    "TokenCounter",
    "TokenUsage",
    "TokenomyError",
    "UsageRecord",
    "__version__",
    "count_tokens",
    "estimate_cost",
    "register_tokenizer",
]
