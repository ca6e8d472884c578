"""``TokenBudgetExampleSelector``: tokenomy's example selection as a LangChain selector.

Works wherever LangChain takes an ``example_selector`` (``FewShotPromptTemplate``,
``FewShotChatMessagePromptTemplate``): it picks the examples that help most per
token within ``max_tokens``, costing each example as your ``example_prompt``
renders it, with the target model's tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.example_selectors import BaseExampleSelector
from langchain_core.prompts import BasePromptTemplate

from tokenomy.embed import CachedEmbedder, CallableEmbedder
from tokenomy.select import ExampleSelector, Selection

__all__ = ["TokenBudgetExampleSelector"]


class TokenBudgetExampleSelector(BaseExampleSelector):
    """Selects few-shot examples by value per token, within a token budget.

    Build it with :meth:`from_examples`, or around an
    :class:`tokenomy.select.ExampleSelector`. ``last_selection`` holds the last
    :class:`~tokenomy.select.Selection` (tokens, relevance, why it is empty).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> from tokenomy.select import ExampleSelector
        >>> selector = TokenBudgetExampleSelector(ExampleSelector(
        ...     [{"q": "2+2", "a": "4"}, {"q": "capital of France", "a": "Paris"}],
        ...     input_keys=["q"], max_tokens=12, embedder=HashingEmbedder()))
        >>> selector.select_examples({"q": "capital of Spain"})
        [{'q': 'capital of France', 'a': 'Paris'}]
    """

    def __init__(self, selector: ExampleSelector) -> None:
        self.selector = selector
        self.last_selection: Selection | None = None

    @classmethod
    def from_examples(
        cls,
        examples: Sequence[dict[str, Any]],
        embeddings: Embeddings | None = None,
        *,
        example_prompt: BasePromptTemplate[Any] | None = None,
        input_keys: Sequence[str] | None = None,
        label_key: str | None = None,
        max_tokens: int | None = 400,
        max_examples: int | None = None,
        strategy: str = "diverse_minimal",
        model: str = "gpt-4o",
        **options: Any,
    ) -> TokenBudgetExampleSelector:
        """Build a selector over ``examples``.

        Args:
            examples: the pool.
            embeddings: any LangChain ``Embeddings`` (default: tokenomy's bundled
                MiniLM); their vectors are cached per text.
            example_prompt: how an example is rendered in the prompt, to cost it.
            input_keys: the prompt variables compared with the examples (default:
                every field but ``label_key``).
            label_key: the field holding the label, for label coverage.
            max_tokens / max_examples / strategy / model: see
                :class:`tokenomy.select.ExampleSelector`; ``options`` go there too.
        """
        embedder = None
        if embeddings is not None:
            embedder = CachedEmbedder(
                CallableEmbedder(
                    embeddings.embed_documents, name=f"langchain:{type(embeddings).__name__}"
                )
            )
        formatter = (lambda e: example_prompt.format(**e)) if example_prompt is not None else None
        return cls(
            ExampleSelector(
                examples,
                input_keys=input_keys,
                label_key=label_key,
                formatter=formatter,
                max_tokens=max_tokens,
                max_examples=max_examples,
                strategy=strategy,
                model=model,
                embedder=embedder,
                **options,
            )
        )

    def add_example(self, example: dict[str, str]) -> None:
        self.selector.add_example(example)

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        selection = self.selector.select(input_variables)
        self.last_selection = selection
        return [dict(e) for e in selection.examples]

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        selection = await self.selector.aselect(input_variables)
        self.last_selection = selection
        return [dict(e) for e in selection.examples]
