"""LangChain adapters for tokenomy (import name ``langchain_tokenomy``)."""

from langchain_tokenomy._convert import to_openai_messages
from langchain_tokenomy.callbacks import TokenomyCallbackHandler, disable, enable, track_usage

__all__ = ["TokenomyCallbackHandler", "disable", "enable", "to_openai_messages", "track_usage"]
