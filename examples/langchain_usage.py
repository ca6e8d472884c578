"""Track every LangChain model call, unchanged chain, into a SQLite ledger.

Run: python examples/langchain_usage.py

The chain uses LangChain's GenericFakeChatModel so the example runs offline; put
`ChatOpenAI(model="gpt-4o-mini")` (or any chat model) in its place: nothing else
changes.
"""

import tempfile
from pathlib import Path

from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

import langchain_tokenomy
from tokenomy import SQLiteLedger


def fake_answers():
    while True:  # what ChatOpenAI returns: text, usage and the served model
        yield AIMessage(
            content="Paris.",
            response_metadata={"model_name": "gpt-4o-mini"},
            usage_metadata={"input_tokens": 23, "output_tokens": 3, "total_tokens": 26},
        )


ledger_path = Path(tempfile.mkdtemp()) / "usage.db"
usage = langchain_tokenomy.enable(ledger=SQLiteLedger(ledger_path), tags={"app": "demo"})
set_llm_cache(InMemoryCache())  # LangChain's own cache: hits are recorded as saved

chain = ChatPromptTemplate.from_messages(
    [("system", "Answer in one word."), ("human", "{question}")]
) | GenericFakeChatModel(messages=fake_answers())

for user in ("alice", "bob", "alice"):
    # Attribution rides on LangChain's own run metadata (or tags like "user:alice").
    chain.invoke(
        {"question": "What is the capital of France?"},
        config={"metadata": {"user": user, "feature": "geo-quiz"}},
    )

for row in usage.ledger.aggregate(("user",)):
    print(
        f"user={row.group['user']:6} calls={row.calls} spent={row.total_tokens} tokens "
        f"${row.cost_usd:.6f}; saved={row.total_saved_tokens} tokens"
    )
print(f"ledger: {ledger_path}")
