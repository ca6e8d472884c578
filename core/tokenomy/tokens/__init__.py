"""Token counting (exact for OpenAI models, offline), prices and costs, usage records."""

from tokenomy.tokens.counter import (
    DEFAULT_MODEL,
    ChatFormat,
    TokenCounter,
    TokenizerRegistry,
    count_tokens,
    register_tokenizer,
)
from tokenomy.tokens.encodings import get_encoding
from tokenomy.tokens.prices import (
    Cost,
    ModelPrice,
    PriceTable,
    UnknownModelPriceWarning,
    estimate_cost,
)
from tokenomy.tokens.tokenizers import (
    ApproximateTokenizer,
    CallableTokenizer,
    HuggingFaceTokenizer,
    TiktokenTokenizer,
    Tokenizer,
)
from tokenomy.tokens.usage import UNATTRIBUTED, TokenCount, TokenUsage, parse_usage

__all__ = [
    "DEFAULT_MODEL",
    "UNATTRIBUTED",
    "ApproximateTokenizer",
    "CallableTokenizer",
    "ChatFormat",
    "Cost",
    "HuggingFaceTokenizer",
    "ModelPrice",
    "PriceTable",
    "TiktokenTokenizer",
    "TokenCount",
    "TokenCounter",
    "TokenUsage",
    "Tokenizer",
    "TokenizerRegistry",
    "UnknownModelPriceWarning",
    "count_tokens",
    "estimate_cost",
    "get_encoding",
    "parse_usage",
    "register_tokenizer",
]
