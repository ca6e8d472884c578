"""TokenBudgetExampleSelector in LangChain's few-shot prompt templates."""

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.prompts import (
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    PromptTemplate,
)

from langchain_tokenomy import TokenBudgetExampleSelector
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.tokens import TokenCounter

POOL = [
    {"question": "What is the capital of France?", "answer": "Paris"},
    {"question": "What is the capital of Japan?", "answer": "Tokyo"},
    {"question": "How many legs does a spider have?", "answer": "Eight"},
    {"question": "Who wrote Hamlet?", "answer": "William Shakespeare"},
    {"question": "What is the boiling point of water in Celsius?", "answer": "100"},
]
EXAMPLE_PROMPT = PromptTemplate.from_template("Q: {question}\nA: {answer}")


class Hashing(Embeddings):
    """LangChain embeddings over tokenomy's hashing embedder (unit tests only)."""

    calls = 0

    def embed_documents(self, texts):
        Hashing.calls += 1
        return HashingEmbedder().embed(texts).tolist()

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def selector(**kw):
    kw.setdefault("max_tokens", 30)
    return TokenBudgetExampleSelector.from_examples(
        POOL, Hashing(), example_prompt=EXAMPLE_PROMPT, input_keys=["question"], **kw
    )


def test_in_a_few_shot_prompt_template_within_the_budget():
    sel = selector()
    prompt = FewShotPromptTemplate(
        example_selector=sel,
        example_prompt=EXAMPLE_PROMPT,
        suffix="Q: {question}\nA:",
        input_variables=["question"],
    )
    text = prompt.format(question="What is the capital of Spain?")
    assert "capital of France" in text or "capital of Japan" in text
    assert "spider" not in text
    shown = sum(
        TokenCounter().count(EXAMPLE_PROMPT.format(**e)) for e in POOL if e["question"] in text
    )
    assert shown <= 30 and sel.last_selection.tokens <= 30


async def test_in_a_few_shot_chat_template_async():
    sel = selector()
    few_shot = FewShotChatMessagePromptTemplate(
        example_selector=sel,
        example_prompt=ChatPromptTemplate.from_messages(
            [("human", "{question}"), ("ai", "{answer}")]
        ),
        input_variables=["question"],
    )
    prompt = ChatPromptTemplate.from_messages([few_shot, ("human", "{question}")])
    messages = (await prompt.ainvoke({"question": "Who wrote Macbeth?"})).to_messages()
    assert any("Shakespeare" in m.content for m in messages)
    assert messages[-1].content == "Who wrote Macbeth?"


def test_add_example_and_embeddings_are_cached():
    sel = selector(max_tokens=200)
    sel.add_example({"question": "Who painted the Mona Lisa?", "answer": "Leonardo da Vinci"})
    before = Hashing.calls
    sel.select_examples({"question": "Who painted the Night Watch?"})
    sel.select_examples({"question": "Who painted the Night Watch?"})
    assert Hashing.calls - before <= 2  # the new example once, the query once
    assert any(
        "Leonardo" in e["answer"] for e in sel.select_examples({"question": "Who painted it?"})
    )


def test_mismatched_prompt_variables_name_the_keys():
    sel = selector()
    with pytest.raises(ConfigError, match=r"input lacks \['question'\].*has \['query'\]"):
        sel.select_examples({"query": "What is the capital of Spain?"})
    with pytest.raises(ConfigError, match="is missing"):
        sel.add_example({"answer": "no question"})


def test_a_budget_smaller_than_any_example_gives_an_empty_selection():
    sel = selector(max_tokens=2)
    assert sel.select_examples({"question": "What is the capital of Spain?"}) == []
    assert "raise max_tokens" in sel.last_selection.note
