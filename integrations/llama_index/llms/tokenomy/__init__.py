"""tokenomy's LlamaIndex LLM wrappers, at the path LlamaIndex users look for them.

``from llama_index.llms.tokenomy import OptimizedLLM`` is the same class as
``llama_index_tokenomy.OptimizedLLM``.
"""

from llama_index_tokenomy import OptimizedLLM, RoutingLLM, SemanticCacheLLM

__all__ = ["OptimizedLLM", "RoutingLLM", "SemanticCacheLLM"]
