"""Track every LlamaIndex LLM call of a query engine, with per-request tags.

Run: python examples/llamaindex_usage.py

MockLLM and MockEmbedding keep the example offline; use your real LLM (for
example `OpenAILike(...)` or `OpenAI(model="gpt-4o-mini")`): nothing else changes.
"""

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index_instrumentation.dispatcher import instrument_tags

import llama_index_tokenomy

usage = llama_index_tokenomy.enable()  # attaches to LlamaIndex's root dispatcher

index = VectorStoreIndex.from_documents(
    [Document(text="Paris is the capital of France."), Document(text="Tokyo is in Japan.")],
    embed_model=MockEmbedding(embed_dim=8),
)
engine = index.as_query_engine(llm=MockLLM(max_tokens=12), similarity_top_k=1)

for user in ("alice", "bob"):
    with instrument_tags({"user": user, "feature": "rag"}):
        engine.query("What is the capital of France?")

for row in usage.ledger.aggregate(("user",)):
    kind = "estimated" if row.estimated_calls else "reported"
    print(f"user={row.group['user']:6} calls={row.calls} tokens={row.total_tokens} ({kind})")
