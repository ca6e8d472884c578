"""FewShotExamples in LlamaIndex prompts (function_mappings) and a query engine."""

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.prompts import PromptTemplate

from llama_index_tokenomy import FewShotExamples
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import ConfigError
from tokenomy.select import ExampleSelector

POOL = [
    {"question": "What is the capital of France?", "answer": "Paris"},
    {"question": "How many legs does a spider have?", "answer": "Eight"},
    {"question": "Who wrote Hamlet?", "answer": "William Shakespeare"},
]


def examples(**kw):
    selector = ExampleSelector(
        POOL,
        formatter="Q: {question}\nA: {answer}",
        max_tokens=kw.pop("max_tokens", 15),
        embedder=HashingEmbedder(),
    )
    return FewShotExamples(selector, **kw)


def test_function_mapping_fills_the_prompt_within_budget():
    fn = examples()
    prompt = PromptTemplate(
        "Examples:\n{few_shot_examples}\n\nQ: {query_str}\nA:",
        function_mappings={"few_shot_examples": fn},
    )
    text = prompt.format(query_str="What is the capital of Italy?")
    assert "Q: What is the capital of France?\nA: Paris" in text
    assert "spider" not in text and fn.last_selection.tokens <= 15


def test_in_a_query_engine_prompt():
    fn = examples(max_tokens=100)
    qa = PromptTemplate(
        "{few_shot_examples}\n\nContext: {context_str}\nQ: {query_str}\nA:",
        function_mappings={"few_shot_examples": fn},
    )
    index = VectorStoreIndex.from_documents(
        [Document(text="Rome is the capital of Italy.")], embed_model=MockEmbedding(embed_dim=8)
    )
    engine = index.as_query_engine(llm=MockLLM(), text_qa_template=qa)
    answer = str(engine.query("What is the capital of Italy?"))  # MockLLM echoes the prompt
    assert "Q: What is the capital of France?" in answer and "Rome is the capital" in answer


def test_missing_query_variable_names_what_the_prompt_has():
    with pytest.raises(ConfigError, match=r"no 'query_str' variable.*\['question'\]"):
        examples()(question="hi")
    with pytest.raises(ConfigError, match="ExampleSelector"):
        FewShotExamples(object())
