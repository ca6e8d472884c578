"""LangChain adapters for tokenomy (import name ``langchain_tokenomy``)."""

from tokenomy._optional import require

require("langchain_core", feature="langchain_tokenomy", package="langchain-core", extra="langchain")

from langchain_tokenomy._convert import to_openai_messages
from langchain_tokenomy.cache import TokenomyCache, cache_scope
from langchain_tokenomy.callbacks import TokenomyCallbackHandler, disable, enable, track_usage
from langchain_tokenomy.chat_model import OptimizedChatModel
from langchain_tokenomy.compressor import TokenomyCompressor
from langchain_tokenomy.example_selector import TokenBudgetExampleSelector
from langchain_tokenomy.middleware import TokenomyMiddleware, TokenomyRoutingMiddleware
from langchain_tokenomy.routing import RoutingChatModel
from langchain_tokenomy.window import window_messages

__all__ = [
    "OptimizedChatModel",
    "RoutingChatModel",
    "TokenBudgetExampleSelector",
    "TokenomyCache",
    "TokenomyCallbackHandler",
    "TokenomyCompressor",
    "TokenomyMiddleware",
    "TokenomyRoutingMiddleware",
    "cache_scope",
    "disable",
    "enable",
    "to_openai_messages",
    "track_usage",
    "window_messages",
]
