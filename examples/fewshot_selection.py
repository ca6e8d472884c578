"""Few-shot examples chosen per input, within a token budget, in LangChain and LlamaIndex.

Run: python examples/fewshot_selection.py

1. LangChain: `FewShotPromptTemplate(example_selector=TokenBudgetExampleSelector(...))`
   shows the examples most relevant to each question, as many as fit 60 tokens.
2. LlamaIndex: `PromptTemplate(function_mappings={"examples": FewShotExamples(selector)})`.

Both use the bundled MiniLM (offline). Compare with showing all 12 examples.
"""

from langchain_core.prompts import FewShotPromptTemplate, PromptTemplate
from llama_index.core.prompts import PromptTemplate as LlamaPromptTemplate

from langchain_tokenomy import TokenBudgetExampleSelector
from llama_index_tokenomy import FewShotExamples
from tokenomy.select import ExampleSelector
from tokenomy.tokens import TokenCounter

POOL = [
    {"question": "How far is it from Paris to Rome?", "type": "number"},
    {"question": "How many moons does Mars have?", "type": "number"},
    {"question": "When did the Berlin Wall fall?", "type": "number"},
    {"question": "Who painted the Sistine Chapel ceiling?", "type": "person"},
    {"question": "Who was the first woman to win a Nobel Prize?", "type": "person"},
    {"question": "Which band recorded Abbey Road?", "type": "person"},
    {"question": "Where is the Great Barrier Reef?", "type": "location"},
    {"question": "What is the capital of Canada?", "type": "location"},
    {"question": "Which river flows through Cairo?", "type": "location"},
    {"question": "What does NASA stand for?", "type": "abbreviation"},
    {"question": "What is photosynthesis?", "type": "description"},
    {"question": "Why is the sky blue?", "type": "description"},
]
COUNTER = TokenCounter("gpt-4o")
example_prompt = PromptTemplate.from_template("Q: {question}\nType: {type}")

# 1. LangChain ---------------------------------------------------------------------------
selector = TokenBudgetExampleSelector.from_examples(
    POOL, example_prompt=example_prompt, input_keys=["question"], label_key="type", max_tokens=60
)
prompt = FewShotPromptTemplate(
    example_selector=selector,
    example_prompt=example_prompt,
    prefix="Classify the question's answer type.",
    suffix="Q: {question}\nType:",
    input_variables=["question"],
)
everything = FewShotPromptTemplate(
    examples=POOL,
    example_prompt=example_prompt,
    prefix="Classify the question's answer type.",
    suffix="Q: {question}\nType:",
    input_variables=["question"],
)
for question in ["How many legs does a spider have?", "Who wrote War and Peace?"]:
    text = prompt.format(question=question)
    full = COUNTER.count(everything.format(question=question))
    print(f"1. {question!r}: {COUNTER.count(text)} prompt tokens (all examples: {full})")
    for e in selector.select_examples({"question": question}):
        print(f"   - {e['question']} -> {e['type']}")

# 2. LlamaIndex --------------------------------------------------------------------------
examples = FewShotExamples(
    ExampleSelector(
        POOL,
        input_keys=["question"],
        label_key="type",
        formatter="Q: {question}\nType: {type}",
        max_tokens=60,
    )
)
qa = LlamaPromptTemplate(
    "Classify the question's answer type.\n\n{examples}\n\nQ: {query_str}\nType:",
    function_mappings={"examples": examples},
)
text = qa.format(query_str="Where is Mount Kilimanjaro?")
print(
    f"2. LlamaIndex prompt, {COUNTER.count(text)} tokens, "
    f"{len(examples.last_selection)} examples:\n{text}"
)
