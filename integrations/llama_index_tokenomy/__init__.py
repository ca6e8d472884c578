"""LlamaIndex adapters for tokenomy (import name ``llama_index_tokenomy``)."""

from llama_index_tokenomy.events import TokenomyEventHandler, disable, enable

__all__ = ["TokenomyEventHandler", "disable", "enable"]
