"""LangChain adapters for tokenomy (import name ``langchain_tokenomy``)."""

from langchain_tokenomy._convert import to_openai_messages
from langchain_tokenomy.cache import TokenomyCache, cache_scope
from langchain_tokenomy.callbacks import TokenomyCallbackHandler, disable, enable, track_usage
from langchain_tokenomy.chat_model import OptimizedChatModel

__all__ = [
    "OptimizedChatModel",
    "TokenomyCache",
    "TokenomyCallbackHandler",
    "cache_scope",
    "disable",
    "enable",
    "to_openai_messages",
    "track_usage",
]
