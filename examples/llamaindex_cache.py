"""A semantic answer cache in front of a LlamaIndex LLM.

Run: python examples/llamaindex_cache.py

`SemanticCacheLLM(llm=..., cache=...)` is an LLM: use it as `Settings.llm` or pass it
to any engine. MockLLM keeps the example offline; wrap your real LLM instead.
"""

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

import llama_index_tokenomy
from tokenomy.cache import SemanticCache

usage = llama_index_tokenomy.enable()
llm = llama_index_tokenomy.SemanticCacheLLM(MockLLM(max_tokens=16), SemanticCache(), scope="acme")
index = VectorStoreIndex.from_documents(
    [Document(text="Refunds are issued within 14 days of purchase.", id_="policy")],
    embed_model=MockEmbedding(embed_dim=8),
)
engine = index.as_query_engine(llm=llm, similarity_top_k=1)
for _ in range(3):
    engine.query("What is the refund policy?")

stats = llm.cache.stats()
print(f"3 identical queries: {stats.misses} model call, {stats.hits} served from the cache")
print(f"ledger: {usage.ledger.totals().cache_hits} hits recorded as saved")
