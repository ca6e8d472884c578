"""Few-shot example selection under a token budget: relevant, diverse, label-balanced."""

from tokenomy.select.compress import ExampleCompression
from tokenomy.select.selector import ExampleSelector, Selection, format_example
from tokenomy.select.strategies import STRATEGIES, Candidates, register_strategy

__all__ = [
    "STRATEGIES",
    "Candidates",
    "ExampleCompression",
    "ExampleSelector",
    "Selection",
    "format_example",
    "register_strategy",
]
