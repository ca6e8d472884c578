"""Budgeted few-shot examples for LlamaIndex prompts, through ``function_mappings``.

LlamaIndex's documented way to inject dynamic few-shot examples is a prompt
variable computed by a function::

    qa_prompt = PromptTemplate(
        "Examples:\\n{few_shot_examples}\\n\\nQuestion: {query_str}\\nAnswer:",
        function_mappings={"few_shot_examples": FewShotExamples(selector)},
    )

:class:`FewShotExamples` is that function: it selects with a
:class:`tokenomy.select.ExampleSelector` (within its token budget) for the
query and renders the chosen examples with the selector's formatter.
"""

from __future__ import annotations

from typing import Any

from tokenomy.errors import ConfigError
from tokenomy.select import ExampleSelector, Selection

__all__ = ["FewShotExamples"]


class FewShotExamples:
    """A ``function_mappings`` function returning the selected examples as text.

    Args:
        selector: chooses the examples (its ``max_tokens`` is the budget).
        query_key: the template variable holding the input (default ``query_str``).
        separator: between two examples (default a blank line).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> pool = [{"q": "capital of France?", "a": "Paris"}, {"q": "2 + 2?", "a": "4"}]
        >>> fn = FewShotExamples(ExampleSelector(pool, max_tokens=12, embedder=HashingEmbedder(),
        ...                                      formatter="Q: {q}\\nA: {a}"))
        >>> print(fn(query_str="capital of Spain?"))
        Q: capital of France?
        A: Paris
    """

    def __init__(
        self, selector: ExampleSelector, *, query_key: str = "query_str", separator: str = "\n\n"
    ) -> None:
        if not isinstance(selector, ExampleSelector):
            raise ConfigError(
                f"FewShotExamples needs a tokenomy ExampleSelector; got {type(selector).__name__}."
            )
        self.selector = selector
        self.query_key = query_key
        self.separator = separator
        self.last_selection: Selection | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> FewShotExamples:
        # LlamaIndex deep-copies prompt templates (partial_format, query engines); the
        # selector's pool, index and locks are shared, never copied.
        return self

    def __call__(self, **kwargs: Any) -> str:
        if self.query_key not in kwargs:
            raise ConfigError(
                f"the prompt has no {self.query_key!r} variable to select examples for; it "
                f"has {sorted(kwargs)}. Pass query_key= naming the one holding the input."
            )
        selection = self.selector.select(str(kwargs[self.query_key]))
        self.last_selection = selection
        return self.separator.join(self.selector.format(e) for e in selection.examples)
