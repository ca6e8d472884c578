"""LlamaIndex adapters for tokenomy (import name ``llama_index_tokenomy``; also importable
the LlamaIndex way: ``llama_index.llms.tokenomy``, ``llama_index.postprocessor.tokenomy``,
``llama_index.memory.tokenomy``, ``llama_index.callbacks.tokenomy``)."""

from tokenomy._optional import require

require(
    "llama_index.core",
    feature="llama_index_tokenomy",
    package="llama-index-core",
    extra="llamaindex",
)

from llama_index_tokenomy.cache_llm import SemanticCacheLLM
from llama_index_tokenomy.events import TokenomyEventHandler, disable, enable
from llama_index_tokenomy.few_shot import FewShotExamples
from llama_index_tokenomy.memory import TokenomyChatMemory
from llama_index_tokenomy.optimized_llm import OptimizedLLM
from llama_index_tokenomy.postprocessor import TokenomyNodePostprocessor
from llama_index_tokenomy.routing_llm import RoutingLLM

__all__ = [
    "FewShotExamples",
    "OptimizedLLM",
    "RoutingLLM",
    "SemanticCacheLLM",
    "TokenomyChatMemory",
    "TokenomyEventHandler",
    "TokenomyNodePostprocessor",
    "disable",
    "enable",
]
