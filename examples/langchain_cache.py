"""A semantic answer cache for an unchanged LangChain app, two ways.

Run: python examples/langchain_cache.py

1. `set_llm_cache(TokenomyCache(...))`: every chain's invoke/batch consults it.
2. `OptimizedChatModel(inner=..., cache=...)`: also serves `stream()`, applies
   single-flight, and scopes entries by the run's `metadata["user"]`.

The model is LangChain's GenericFakeChatModel returning numbered answers, so you
can see which calls reached it; put `ChatOpenAI(model="gpt-4o-mini")` there.
Entries live in memory and on disk (a restart keeps them); add
`RedisTier("redis://localhost:6379")` to share them between hosts.
"""

import itertools
import tempfile

from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

import langchain_tokenomy
from langchain_tokenomy import OptimizedChatModel, TokenomyCache, cache_scope
from tokenomy.cache import DiskTier, MemoryTier, SemanticCache


def model():
    answers = (
        AIMessage(
            content=f"model answer #{i}",
            response_metadata={"model_name": "gpt-4o-mini"},
            usage_metadata={"input_tokens": 40, "output_tokens": 60, "total_tokens": 100},
        )
        for i in itertools.count(1)
    )
    return GenericFakeChatModel(messages=answers)


usage = langchain_tokenomy.enable()  # hits are recorded as tokens saved
cache = SemanticCache(tiers=[MemoryTier(), DiskTier(tempfile.mkdtemp())], ttl_seconds=86_400)

# 1. A global LLM cache: no change to the chain.
set_llm_cache(TokenomyCache(cache))
chat = model()
with cache_scope("alice"):
    for question in [
        "How do I reset my password?",
        "how can I reset my password",  # same meaning: served from cache
        "How do I reset my password? Not my username.",
    ]:  # different: model
        print(f"{question!r:55} -> {chat.invoke(question).content}")
set_llm_cache(None)

# 2. A wrapped model: streaming hits too, scoped by run metadata.
wrapped = OptimizedChatModel(inner=model(), cache=cache)
for user in ["bob", "bob", "carol"]:
    text = "".join(
        c.content
        for c in wrapped.stream("What is your refund policy?", config={"metadata": {"user": user}})
    )
    print(f"{user:6} stream -> {text}")

stats = cache.stats()
print(
    f"hits: {stats.exact_hits} exact, {stats.semantic_hits} by meaning; "
    f"turned down by the false-hit guards: {dict(stats.rejected)}"
)
totals = usage.ledger.totals()
print(f"ledger: {totals.total_tokens} tokens spent, {totals.total_saved_tokens} saved")
