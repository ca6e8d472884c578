"""tokenomy's chat memory (a conversation window), the LlamaIndex way:
``from llama_index.memory.tokenomy import TokenomyChatMemory``."""

from llama_index_tokenomy import TokenomyChatMemory

__all__ = ["TokenomyChatMemory"]
