"""The semantic cache's column in ``tokenomy audit``: replay the workload through a
cache (real MiniLM, the default difference-aware verifier) and add up what it serves,
what its verifier refused and why, and a sample of the semantic hits it would serve,
for the user to eyeball."""

from __future__ import annotations

from typing import Any

from tokenomy.audit.plugins import AuditContext, CallSavings, SavingsEstimate
from tokenomy.cache.cache import SemanticCache
from tokenomy.cache.stats import Answer

__all__ = ["SemanticCacheAuditPlugin"]

SAMPLE_HITS = 5  # semantic hits quoted in the findings


class SemanticCacheAuditPlugin:
    """Replays the calls in time order: a hit saves the call, a miss stores its answer.

    Args:
        shared: let every user's calls hit every other user's entries (an app-wide
            FAQ cache) instead of the default, per-user entries (``tags["user"]``).
        cache_factory: builds the cache to replay through (default: in memory, the
            bundled MiniLM, the default guards and verifier).
    """

    def __init__(self, *, shared: bool = False, cache_factory: Any = None) -> None:
        self.shared = shared
        self.name = "semantic_cache_shared" if shared else "semantic_cache"
        self.title = "Semantic cache, shared" if shared else "Semantic cache, per user"
        self._factory = cache_factory or (lambda: SemanticCache(share_across_scopes=shared))

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        cache: SemanticCache = self._factory()
        calls = sorted(context.calls, key=lambda c: (c.call.timestamp or 0.0, c.call.line))
        # embed every question in one batch; lookups then find them in the embedding cache
        queries = [cache.key(_prompt(c), llm=c.call.model).query for c in calls]
        texts = sorted({q for q in queries if q})
        if cache.mode == "semantic" and texts:
            cache.embedder.embed(texts)
        hits = exact = inp = out = 0
        cost = 0.0
        per_call = CallSavings()
        sample: list[str] = []
        for c in calls:
            prompt = _prompt(c)
            scope = None if self.shared else c.call.tags.get("user")
            hit = cache.lookup(prompt, llm=c.call.model, scope=scope, tools=c.call.tools)
            if hit is not None:
                hits += 1
                per_call.add_whole(c)
                exact += hit.kind == "exact"
                query = cache.key(prompt, llm=c.call.model).query
                line = f"{_clip(query)!r} served the answer to {_clip(hit.matched_query)!r}"
                if hit.kind == "semantic" and len(sample) < SAMPLE_HITS and line not in sample:
                    sample.append(line)
                inp += c.usage.input_tokens
                out += c.usage.output_tokens
                cost += c.cost_usd or 0.0
            elif c.call.response:
                cache.store(
                    prompt,
                    Answer(
                        payload=c.call.response,
                        text=c.call.response,
                        model=c.call.model,
                        usage=c.usage,
                        finish_reason=c.call.finish_reason,
                    ),
                    llm=c.call.model,
                    scope=scope,
                    tools=c.call.tools,
                )
        stats = cache.stats()
        rejected = sum(stats.rejected.values())
        by_count = sorted(stats.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
        reasons = ", ".join(f"{k}: {v}" for k, v in by_count) or "none"
        findings = (
            f"{hits} of {len(calls)} calls served from the cache ({exact} exact, "
            f"{hits - exact} by meaning); {rejected} near matches refused by the "
            f"verifier, by reason ({reasons}).",
            *(f"Would serve: {line}." for line in sample),
            "Entries are shared by all users."
            if self.shared
            else "Entries are private to each user (tags.user), the cache's default.",
        )
        return SavingsEstimate(
            self.name,
            self.title,
            hits,
            inp,
            out,
            cost,
            findings,
            {
                "hit_rate": hits / len(calls) if calls else 0.0,
                "guard_rejections": float(rejected),
                **{f"refused_{k}": float(v) for k, v in by_count},
            },
            per_call=per_call,
        )


def _clip(text: str | None, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _prompt(c: Any) -> Any:
    return list(c.call.messages) if c.call.messages is not None else c.call.prompt or ""
