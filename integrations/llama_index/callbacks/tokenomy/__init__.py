"""tokenomy's usage accounting for LlamaIndex (an instrumentation event handler), where
LlamaIndex users look for observability integrations:
``from llama_index.callbacks.tokenomy import enable``."""

from llama_index_tokenomy import TokenomyEventHandler, disable, enable

__all__ = ["TokenomyEventHandler", "disable", "enable"]
