"""tokenomy's node postprocessor (context compression), the LlamaIndex way:
``from llama_index.postprocessor.tokenomy import TokenomyNodePostprocessor``."""

from llama_index_tokenomy import TokenomyNodePostprocessor

__all__ = ["TokenomyNodePostprocessor"]
