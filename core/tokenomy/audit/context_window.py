"""The conversation-window column of ``tokenomy audit``: long histories, windowed.

Each chat call whose prompt exceeds the window is run through a
:class:`ConversationWindow` (with the local extractive summary of what it
evicts); the tokens it would not send are the saving.
"""

from __future__ import annotations

from typing import Any

from tokenomy.audit.plugins import AuditContext, CallSavings, IdentityMemo, SavingsEstimate
from tokenomy.context.window import DEFAULT_WINDOW_TOKENS, ConversationWindow, WindowResult
from tokenomy.tokens.usage import TokenUsage

__all__ = ["WindowAuditPlugin"]


class WindowAuditPlugin:
    """What sending each chat through a ``window_tokens`` window would save.

    Args:
        window_tokens: the window's budget (default 4096, ``context.window_tokens``).
        window: a window to use instead (its own budget and options).
    """

    name = "context_window"
    title = "Conversation window"

    def __init__(
        self,
        *,
        window_tokens: int = DEFAULT_WINDOW_TOKENS,
        window: ConversationWindow | None = None,
    ) -> None:
        self.window = window or ConversationWindow(max_tokens=window_tokens)

    def estimate(self, context: AuditContext) -> SavingsEstimate:
        budget = self.window.max_tokens
        largest = affected = saved = 0
        cost = 0.0
        summarized = 0
        per_call = CallSavings()

        def fit(messages: Any, tools: Any) -> WindowResult:
            return self.window.fit(messages, tools=tools)

        def count(model: str, messages: Any, tools: Any) -> int:
            return context.counter(model).count_messages(messages, tools=tools)

        fitted = IdentityMemo(fit)  # once per distinct shared conversation
        counted = IdentityMemo(count)
        for c in context.calls:
            messages = c.call.messages
            if not messages:
                continue
            # a call priced by counting has its prompt's count already (the same
            # count_messages); one whose usage was reported is counted here
            tokens = (
                c.usage.input_tokens
                if not c.exact
                else counted(c.call.model, messages, c.call.tools)
            )
            largest = max(largest, tokens)
            if tokens <= budget:
                continue
            result = fitted(messages, c.call.tools)
            if result.saved_tokens <= 0:
                continue
            affected += 1
            summarized += result.summary is not None
            saved += result.saved_tokens
            dollars = context.cost(c.call.model, TokenUsage(input_tokens=result.saved_tokens))
            cost += dollars or 0.0
            per_call.add(c, input_tokens=result.saved_tokens, cost_usd=dollars or 0.0)
        if not affected:
            finding = (
                f"No chat prompt exceeds the {budget:,}-token window (largest: "
                f"{largest:,} tokens); the window would send everything as it is."
            )
            return SavingsEstimate(
                self.name, self.title, 0, 0, 0, 0.0, (finding,), per_call=CallSavings()
            )
        findings = (
            f"{affected} chat prompts exceed the {budget:,}-token window; older turns that "
            f"do not bear on the current question are evicted ({summarized} summarized).",
            "System prompt, stated goal, tools and the current turn are always sent.",
        )
        return SavingsEstimate(
            self.name, self.title, affected, saved, 0, cost, findings, per_call=per_call
        )
