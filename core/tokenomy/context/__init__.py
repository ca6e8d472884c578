"""Conversation windows: what of a chat history to send within a token budget."""

from tokenomy.context.summarize import ExtractiveSummarizer, PromptSummarizer, Summarizer
from tokenomy.context.window import ConversationWindow, WindowResult

__all__ = [
    "ConversationWindow",
    "ExtractiveSummarizer",
    "PromptSummarizer",
    "Summarizer",
    "WindowResult",
]
