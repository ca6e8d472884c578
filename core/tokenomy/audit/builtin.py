"""Waste ``tokenomy audit`` can see without any model: repeated identical requests and
large system prompts repeated on every call (the response-length group, caps far from
real use, loops and JSON tails, is in ``response_length``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Final

from tokenomy.audit.plugins import (
    AuditContext,
    AuditedCall,
    AuditPlugin,
    CallSavings,
    SavingsEstimate,
)
from tokenomy.audit.text import shorten

__all__ = ["BUILTIN_PLUGINS", "ExactRepeatPlugin", "PromptCachingPlugin"]

_MIN_CACHEABLE_PREFIX: Final = 1024  # OpenAI caches prompts from 1,024 tokens on
_PREFIX_TTL_S: Final = 300.0  # providers drop a cached prefix after ~5 min idle


def _key_of(model: str, messages: Any, prompt: str | None, tools: Any) -> str:
    body = json.dumps(
        [model, messages, prompt, tools], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def _request_key(call: AuditedCall, context: AuditContext | None = None) -> str:
    """A digest of the request (model, messages, prompt, tools); worked out once per
    distinct shared request when ``context`` is given."""
    c = call.call
    key_of = _key_of if context is None else context.memo("request_key", _key_of, limit=100_000)
    return key_of(c.model, c.messages, c.prompt, c.tools)


def _ordered(calls: tuple[AuditedCall, ...]) -> list[AuditedCall]:
    return sorted(calls, key=lambda c: (c.call.timestamp or 0.0, c.call.line))


class ExactRepeatPlugin:
    """An exact-match cache: every request identical to an earlier one is a hit."""

    name = "exact_cache"
    title = "Exact-match cache"

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        seen: dict[str, AuditedCall] = {}
        repeats: dict[str, int] = defaultdict(int)
        inp = out = hits = 0
        cost = 0.0
        per_call = CallSavings()
        for c in _ordered(context.calls):
            key = _request_key(c, context)
            if key in seen:
                hits += 1
                repeats[key] += 1
                per_call.add_whole(c)
                inp += c.usage.input_tokens
                out += c.usage.output_tokens
                cost += c.cost_usd or 0.0
            else:
                seen[key] = c
        findings = [
            f"{hits} of {len(context.calls)} calls repeat an earlier identical request "
            f"({len(repeats)} distinct requests repeated)."
        ]
        for key, n in sorted(repeats.items(), key=lambda kv: -kv[1])[:3]:
            first = seen[key].call
            findings.append(f"x{n + 1} on {first.model}: {shorten(first.last_user_text, 60)!r}")
        return SavingsEstimate(
            self.name, self.title, hits, inp, out, cost, tuple(findings), per_call=per_call
        )


class PromptCachingPlugin:
    """Provider prompt caching of a repeated system prompt (same tokens, cheaper).

    A system prompt of at least 1,024 tokens sent again to the same model within
    ``ttl_s`` seconds of its last use is billed at the cached-input price, when
    the model has one and the call did not already report cached tokens.
    """

    name = "prompt_caching"
    title = "Provider prompt caching"

    def __init__(self, *, ttl_s: float = _PREFIX_TTL_S) -> None:
        self.ttl_s = ttl_s

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        last_use: dict[tuple[str, str], float] = {}
        sizes: dict[str, tuple[int, int, str]] = {}  # prefix hash -> (tokens sent, calls, text)
        affected = 0
        cost = 0.0
        per_call = CallSavings()
        total_input = sum(c.usage.input_tokens for c in context.calls) or 1
        prefix = context.memo("system_prompt", _system_digest)
        for c in _ordered(context.calls):
            messages = c.call.messages
            system, digest = prefix(messages[0]) if messages else ("", "")
            if not system:
                continue
            tokens = context.counter(c.call.model).count(system)
            sent, n, _ = sizes.get(digest, (0, 0, system))
            sizes[digest] = (sent + tokens, n + 1, system)
            if tokens < _MIN_CACHEABLE_PREFIX:
                continue
            key = (c.call.model, digest)
            now = c.call.timestamp or 0.0
            previous = last_use.get(key)
            last_use[key] = now
            price = context.prices.get(c.call.model)
            if (
                previous is None
                or now - previous > self.ttl_s
                or price is None
                or price.cached_input is None
                or c.usage.cached_input_tokens
            ):
                continue
            affected += 1
            cost += tokens * (price.input - price.cached_input) / 1e6
            per_call.add(c, cost_usd=tokens * (price.input - price.cached_input) / 1e6)
        findings = []
        for sent, calls, text in sorted(sizes.values(), key=lambda v: -v[0])[:3]:
            if calls < 2:
                continue
            findings.append(
                f"A system prompt of ~{sent // calls:,} tokens is sent {calls:,} times: "
                f"{sent:,} input tokens ({sent / total_input:.0%} of all input) - "
                f"{shorten(text, 40)!r}"
            )
        findings.append(
            f"Counted only repeats within {self.ttl_s:.0f} s of the previous use, for prompts "
            f"of >= {_MIN_CACHEABLE_PREFIX} tokens on models with a cached-input price."
        )
        return SavingsEstimate(
            self.name, self.title, affected, 0, 0, cost, tuple(findings), per_call=per_call
        )


def _system_digest(first: Mapping[str, Any]) -> tuple[str, str]:
    """The system prompt of a request's first message, and its digest."""
    system = _system_prompt((first,))
    return system, hashlib.blake2b(system.encode(), digest_size=12).hexdigest()


def _system_prompt(messages: Any) -> str:
    if not messages:
        return ""
    first = messages[0]
    if first.get("role") not in ("system", "developer"):
        return ""
    content = first.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def _response_length() -> AuditPlugin:
    from tokenomy.audit.response_length import ResponseLengthPlugin

    return ResponseLengthPlugin()


def _semantic_cache(shared: bool) -> Callable[[], AuditPlugin]:
    def factory() -> AuditPlugin:
        from tokenomy.audit.semantic_cache import (
            SemanticCacheAuditPlugin,  # loads the embedder on use
        )

        return SemanticCacheAuditPlugin(shared=shared)

    return factory


def _compression() -> AuditPlugin:
    from tokenomy.audit.compression import CompressionAuditPlugin  # loads the embedder on use

    return CompressionAuditPlugin()


def _few_shot() -> AuditPlugin:
    from tokenomy.audit.few_shot import FewShotAuditPlugin

    return FewShotAuditPlugin()


def _routing() -> AuditPlugin:
    from tokenomy.audit.routing import RoutingAuditPlugin

    return RoutingAuditPlugin()


def _window() -> AuditPlugin:
    from tokenomy.audit.context_window import WindowAuditPlugin

    return WindowAuditPlugin()


BUILTIN_PLUGINS: Final[dict[str, Callable[[], AuditPlugin]]] = {
    ExactRepeatPlugin.name: ExactRepeatPlugin,
    "semantic_cache": _semantic_cache(shared=False),
    "semantic_cache_shared": _semantic_cache(shared=True),
    PromptCachingPlugin.name: PromptCachingPlugin,
    "compression": _compression,
    "context_window": _window,
    "few_shot": _few_shot,
    "routing": _routing,
    "output_caps": _response_length,  # the "Response length" group (caps, loops, JSON tails)
}
