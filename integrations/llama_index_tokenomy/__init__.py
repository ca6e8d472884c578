"""LlamaIndex adapters for tokenomy (import name ``llama_index_tokenomy``)."""

from llama_index_tokenomy.cache_llm import SemanticCacheLLM
from llama_index_tokenomy.events import TokenomyEventHandler, disable, enable

__all__ = ["SemanticCacheLLM", "TokenomyEventHandler", "disable", "enable"]
