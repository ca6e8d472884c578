"""A conversation window: what of a chat history to send, within a token budget.

Messages are OpenAI-style dicts (``role``, ``content``, ``tool_calls``,
``tool_call_id``); the LangChain and LlamaIndex adapters convert theirs and map the
result back by index. The window never changes a message: it keeps some, evicts
others, and may add one summary message.

What is always sent (the pinned, lossless core): system and developer messages,
the user's stated goal (the first user message), messages the caller pins, and
the current turn (the last user message and everything after it). The rest of
the history is cut into turns at user messages, so a tool call always stays with
its result. The newest turns, up to ``overlap_tokens``, are carried over
verbatim; older turns compete for the remaining budget by relevance to the
current question plus a recency weight that decays with age. Evicted turns are
summarized (see :mod:`tokenomy.context.summarize`) into one system message placed
after the leading system messages.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from tokenomy.context.summarize import ExtractiveSummarizer, Summarizer
from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import BudgetExceededError, ConfigError, UnknownNameError
from tokenomy.text.messages import fingerprint, labelled, last_user_message, message_text
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    from tokenomy.embed import Embedder

__all__ = [
    "DECAYS",
    "DEFAULT_DECAY",
    "DEFAULT_HALF_LIFE_TURNS",
    "DEFAULT_OVERLAP_TOKENS",
    "DEFAULT_WINDOW_TOKENS",
    "SUMMARY_PREFIX",
    "ConversationWindow",
    "WindowResult",
]

log = logging.getLogger(__name__)

Decay = Literal["exponential", "linear", "none"]

DEFAULT_WINDOW_TOKENS: Final = 4096
"""Budget of what a call sends, tokens (the seed's WINDOW_SIZE; ``context.window_tokens``)."""
DEFAULT_OVERLAP_TOKENS: Final = 512
"""Newest turns carried over verbatim, tokens (OVERLAP_SIZE; ``context.overlap_tokens``)."""
DEFAULT_DECAY: Final[Decay] = "exponential"
"""How a turn's recency weight falls with age (IMPORTANCE_DECAY; ``context.decay``)."""
DEFAULT_HALF_LIFE_TURNS: Final = 4.0
"""Age, in turns, at which that weight halves (``context.half_life_turns``)."""

DECAYS: dict[str, Callable[[float, float], float]] = {
    "exponential": lambda age, half_life: 0.5 ** (age / half_life),
    "linear": lambda age, half_life: max(0.0, 1.0 - age / (2.0 * half_life)),
    "none": lambda age, half_life: 0.0,
}
"""Recency weight of a turn ``age`` turns old, in [0, 1], by name."""

SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
_SUMMARY_OVERHEAD = 12  # the summary message's framing and prefix, tokens
_EMBED_CHARS = 1000
_MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class WindowResult:
    """What to send.

    Attributes:
        messages: the messages to send, in order (the caller's own objects, plus
            the summary message when there is one).
        kept: indices of the input messages that are sent.
        evicted: indices of the input messages that are not.
        summary: the summary of the evicted turns, or None.
        summary_position: index of the summary message in ``messages``, or None.
        original_tokens / sent_tokens: prompt tokens before and after.
        budget_tokens: the budget worked to (smaller than ``max_tokens`` when a
            session budget runs low).
        over_budget: the pinned core alone exceeds the budget, so it was sent as is.
    """

    messages: tuple[Mapping[str, Any], ...]
    kept: tuple[int, ...]
    evicted: tuple[int, ...]
    summary: str | None
    summary_position: int | None
    original_tokens: int
    sent_tokens: int
    budget_tokens: int
    over_budget: bool = False

    @property
    def saved_tokens(self) -> int:
        return self.original_tokens - self.sent_tokens

    def __str__(self) -> str:
        return (
            f"{self.original_tokens} -> {self.sent_tokens} tokens, "
            f"{len(self.evicted)} messages evicted" + (", summarized" if self.summary else "")
        )


@dataclass
class _Session:
    spent: int = 0
    covered: frozenset[str] = frozenset()
    summary: str | None = None


@dataclass
class _Turn:
    indices: list[int]
    cost: int
    age: int
    relevance: float = 0.0
    texts: list[str] = field(default_factory=list)


class ConversationWindow:
    """Fits a chat history into ``max_tokens``, keeping what the next answer needs.

    Args:
        max_tokens: budget for everything sent (messages, framing, tool schemas).
        overlap_tokens: the newest turns, up to this many tokens, are carried over
            verbatim from one window to the next (default 512).
        decay: how the recency weight falls with a turn's age: ``"exponential"``
            (default), ``"linear"`` or ``"none"`` (relevance only).
        half_life_turns: age in turns at which the recency weight halves (default 4).
        relevance_weight: weight of the relevance to the current question, against
            a recency weight in [0, 1] (default 2.0).
        summarizer: summarizes evicted turns (default :class:`ExtractiveSummarizer`,
            local); ``None`` drops them without a summary.
        summary_tokens: budget of the summary (default ``min(512, max_tokens // 4)``).
        pin_goal: always send the first user message, the user's stated goal.
        session_budget: tokens a session may send over all its calls; the window
            shrinks as it runs low and raises :class:`BudgetExceededError` when even
            the pinned core no longer fits.
        model: counts tokens with this model's tokenizer.
        embedder: for relevance (default: the bundled MiniLM, cached).

    Example:
        >>> from tokenomy.embed import HashingEmbedder
        >>> window = ConversationWindow(max_tokens=45, overlap_tokens=0, pin_goal=False,
        ...                             summarizer=None, embedder=HashingEmbedder())
        >>> history = [{"role": "system", "content": "Be brief."},
        ...            {"role": "user", "content": "My cat is called Tom."},
        ...            {"role": "assistant", "content": "Nice name!"},
        ...            {"role": "user", "content": "The weather is awful today, rain again."},
        ...            {"role": "assistant", "content": "Sorry to hear that."},
        ...            {"role": "user", "content": "What is my cat called?"}]
        >>> [m["content"] for m in window.fit(history).messages]
        ['Be brief.', 'My cat is called Tom.', 'Nice name!', 'What is my cat called?']
    """

    def __init__(
        self,
        *,
        max_tokens: int = DEFAULT_WINDOW_TOKENS,
        overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
        decay: Decay = DEFAULT_DECAY,
        half_life_turns: float = DEFAULT_HALF_LIFE_TURNS,
        relevance_weight: float = 2.0,
        summarizer: Summarizer | Literal["extractive"] | None = "extractive",
        summary_tokens: int | None = None,
        pin_goal: bool = True,
        session_budget: int | None = None,
        model: str = DEFAULT_MODEL,
        embedder: Embedder | None = None,
    ) -> None:
        _check_int("max_tokens", max_tokens, 1)
        _check_int("overlap_tokens", overlap_tokens, 0)
        if decay not in DECAYS:
            raise UnknownNameError(f"unknown decay {decay!r}; choose one of {sorted(DECAYS)}.")
        if not half_life_turns > 0:
            raise ConfigError(f"half_life_turns must be > 0; got {half_life_turns!r}.")
        if not relevance_weight >= 0:
            raise ConfigError(f"relevance_weight must be >= 0; got {relevance_weight!r}.")
        if summary_tokens is not None:
            _check_int("summary_tokens", summary_tokens, 1)
        if session_budget is not None:
            _check_int("session_budget", session_budget, 1)
        if summarizer == "extractive":
            summarizer = ExtractiveSummarizer(model=model, embedder=embedder)
        elif summarizer is not None and not isinstance(summarizer, Summarizer):
            raise ConfigError(
                "summarizer must have a summarize(texts, *, max_tokens, focus, previous) "
                f"method, be 'extractive' or None; got {type(summarizer).__name__}."
            )
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.decay: Decay = decay
        self.half_life_turns = half_life_turns
        self.relevance_weight = relevance_weight
        self.summarizer: Summarizer | None = summarizer
        self.summary_tokens = summary_tokens or min(512, max(1, max_tokens // 4))
        self.pin_goal = pin_goal
        self.session_budget = session_budget
        self.counter = TokenCounter(model)
        self._embedder = embedder
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    embedder = EmbedderOrDefault()

    # -- public API ----------------------------------------------------------------

    def fit(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        pinned: Collection[int] = (),
        session: str | None = None,
        reserve_tokens: int = 0,
    ) -> WindowResult:
        """Choose what of ``messages`` to send.

        Args:
            messages: the chat history, oldest first, ending with the current turn.
            tools: tool schemas sent with the request (counted, always kept).
            pinned: indices of messages that must be sent.
            session: names the conversation; needed for ``session_budget`` and for
                an incremental summarizer's rolling summary.
            reserve_tokens: tokens the caller sends besides ``messages`` (a prompt
                prefix, retrieved context); taken off the budget.

        Raises:
            ConfigError: for a message that is not a dict with a ``role``, or a
                pinned index out of range.
            BudgetExceededError: the session's budget cannot hold the pinned core.
        """
        msgs = _validate(messages, pinned)
        _check_int("reserve_tokens", reserve_tokens, 0)
        state = self._session(session)
        window_budget = self.max_tokens - reserve_tokens
        left = None  # what the session's budget has left for these messages
        if self.session_budget is not None and state is not None:
            left = self.session_budget - state.spent - reserve_tokens
        budget = window_budget if left is None else min(window_budget, left)
        original = self.counter.count_messages(msgs, tools=tools)
        if original <= budget:
            return self._done(state, _unchanged(msgs, original, budget), reserve_tokens)
        frame = self.counter.count_messages([], tools=tools)
        empty = self.counter.count_messages([])  # the reply priming every request has
        costs = [self.counter.count_messages([m]) - empty for m in msgs]
        core = _pinned(msgs, pinned, self.pin_goal)
        fixed = frame + sum(costs[i] for i in core)
        if fixed > budget:
            if left is not None and left < fixed <= window_budget:
                raise BudgetExceededError(
                    f"session {session!r} has {left} of its {self.session_budget}-token "
                    f"budget left, and the pinned messages need {fixed}; raise "
                    "session_budget or start a new session."
                )
            log.warning(
                "tokenomy: the pinned messages need %d tokens, more than the window's %d; "
                "sending them without the rest of the history.",
                fixed,
                budget,
            )
        turns = _turns(msgs, core, costs)
        reserve = self.summary_tokens + _SUMMARY_OVERHEAD if self.summarizer else 0
        room = max(0, budget - fixed - reserve)
        focus = _focus(msgs)
        kept_set = core | {i for t in self._choose(msgs, turns, room, focus) for i in t.indices}
        kept = sorted(kept_set)
        evicted = [i for i in range(len(msgs)) if i not in kept_set]
        summary = (
            self._summary(msgs, evicted, state, focus) if evicted and fixed <= budget else None
        )
        out, position = _assemble(msgs, kept, summary)
        sent = self.counter.count_messages(out, tools=tools)
        return self._done(
            state,
            WindowResult(
                tuple(out),
                tuple(kept),
                tuple(evicted),
                summary,
                position,
                original,
                sent,
                budget,
                over_budget=fixed > budget,
            ),
            reserve_tokens,
        )

    async def afit(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        pinned: Collection[int] = (),
        session: str | None = None,
        reserve_tokens: int = 0,
    ) -> WindowResult:
        """:meth:`fit` in a worker thread (relevance embedding is CPU-bound)."""
        return await asyncio.to_thread(
            self.fit,
            messages,
            tools=tools,
            pinned=pinned,
            session=session,
            reserve_tokens=reserve_tokens,
        )

    def spent(self, session: str) -> int:
        """Tokens a session has sent through this window."""
        with self._lock:
            state = self._sessions.get(session)
            return state.spent if state else 0

    def reset(self, session: str) -> None:
        """Forget a session: its spend and its rolling summary."""
        with self._lock:
            self._sessions.pop(session, None)

    # -- internals ---------------------------------------------------------------------

    def _session(self, session: str | None) -> _Session | None:
        if session is None:
            return None
        with self._lock:
            state = self._sessions.pop(session, None) or _Session()
            self._sessions[session] = state  # most recent last
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return state

    def _done(self, state: _Session | None, result: WindowResult, reserved: int) -> WindowResult:
        if state is not None:
            with self._lock:
                state.spent += result.sent_tokens + reserved
        return result

    def _choose(
        self, msgs: list[Mapping[str, Any]], turns: list[_Turn], room: int, focus: str
    ) -> list[_Turn]:
        """The newest turns up to the overlap, then the best of the rest that fit."""
        kept: list[_Turn] = []
        used = 0
        rest = list(turns)
        while rest and used + rest[-1].cost <= min(self.overlap_tokens, room):
            turn = rest.pop()
            kept.append(turn)
            used += turn.cost
        if not rest or used >= room:
            return kept
        self._relevance(msgs, rest, focus)
        decay = DECAYS[self.decay]
        rest.sort(
            key=lambda t: (
                -(self.relevance_weight * t.relevance + decay(t.age, self.half_life_turns)),
                t.age,
            )
        )
        for turn in rest:
            if used + turn.cost <= room:
                kept.append(turn)
                used += turn.cost
        return kept

    def _relevance(self, msgs: list[Mapping[str, Any]], turns: list[_Turn], focus: str) -> None:
        if not focus.strip() or self.relevance_weight == 0:
            return
        texts = [focus[:_EMBED_CHARS]]
        owners: list[_Turn] = []
        for turn in turns:
            for i in turn.indices:
                text = message_text(msgs[i])
                if text.strip():
                    texts.append(text[:_EMBED_CHARS])
                    owners.append(turn)
        if len(texts) == 1:
            return
        vectors = self.embedder.embed(texts)
        sims = vectors[1:] @ vectors[0]
        for turn, sim in zip(owners, sims, strict=True):
            turn.relevance = max(turn.relevance, min(1.0, max(0.0, float(sim))))

    def _summary(
        self,
        msgs: list[Mapping[str, Any]],
        evicted: list[int],
        state: _Session | None,
        focus: str,
    ) -> str | None:
        summarizer = self.summarizer
        if summarizer is None:
            return None
        texts = [labelled(msgs[i]) for i in evicted]
        incremental = bool(getattr(summarizer, "incremental", False)) and state is not None
        previous = None
        if incremental and state is not None:
            marks = [fingerprint(msgs[i]) for i in evicted]
            texts = [t for t, m in zip(texts, marks, strict=True) if m not in state.covered]
            if not texts:
                return state.summary
            previous = state.summary
        try:
            summary = summarizer.summarize(
                texts, max_tokens=self.summary_tokens, focus=focus or None, previous=previous
            )
        except Exception as exc:  # a failing LLM must not fail the user's call
            log.warning("tokenomy: the summarizer failed (%r); using the local one.", exc)
            if isinstance(summarizer, ExtractiveSummarizer):
                return None
            fallback = ExtractiveSummarizer(
                model=self.counter.model or DEFAULT_MODEL, embedder=self._embedder
            )
            summary = fallback.summarize(
                texts, max_tokens=self.summary_tokens, focus=focus or None, previous=previous
            )
            incremental = False
        if incremental and state is not None:
            with self._lock:
                state.covered = state.covered | {fingerprint(msgs[i]) for i in evicted}
                state.summary = summary
        return summary or None


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}; got {value!r}.")


def _validate(
    messages: Sequence[Mapping[str, Any]], pinned: Collection[int]
) -> list[Mapping[str, Any]]:
    if isinstance(messages, str | Mapping) or not isinstance(messages, Sequence):
        raise ConfigError("messages must be a list of message dicts, oldest first.")
    msgs = list(messages)
    for i, m in enumerate(msgs):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise ConfigError(
                f"message {i} is not a dict with a 'role' (got {type(m).__name__}); "
                "pass OpenAI-style dicts, or use the LangChain/LlamaIndex adapters."
            )
    bad = [p for p in pinned if not isinstance(p, int) or not -len(msgs) <= p < len(msgs)]
    if bad:
        raise ConfigError(f"pinned indices {bad} are out of range for {len(msgs)} messages.")
    return msgs


def _unchanged(msgs: list[Mapping[str, Any]], tokens: int, budget: int) -> WindowResult:
    kept = tuple(range(len(msgs)))
    return WindowResult(tuple(msgs), kept, (), None, None, tokens, tokens, budget)


def _pinned(msgs: list[Mapping[str, Any]], pinned: Collection[int], pin_goal: bool) -> set[int]:
    core = {p % len(msgs) for p in pinned} if msgs else set()
    users = [i for i, m in enumerate(msgs) if m.get("role") in ("user", "human")]
    if users:
        core.update(range(users[-1], len(msgs)))  # the current turn
        if pin_goal:
            core.add(users[0])
    else:
        core.update(range(len(msgs)))  # no user turn: nothing to window by
    core.update(i for i, m in enumerate(msgs) if m.get("role") in ("system", "developer"))
    return _with_tool_groups(msgs, core)


def _with_tool_groups(msgs: list[Mapping[str, Any]], core: set[int]) -> set[int]:
    """Extend pins so a tool call and its results are kept together (parallel calls
    sent as consecutive assistant messages, as Responses API items are, are one group)."""
    out = set(core)
    start = None
    for i, m in enumerate(msgs):
        if _calls(m):
            if not (i and _calls(msgs[i - 1])):  # the first of a run of calls
                start = i
        elif m.get("role") == "tool" and start is not None:
            group = set(range(start, i + 1))
            if group & core:
                out |= group
        else:
            start = None
    return out


def _calls(m: Mapping[str, Any]) -> bool:
    return m.get("role") == "assistant" and bool(m.get("tool_calls"))


def _turns(msgs: list[Mapping[str, Any]], core: set[int], costs: list[int]) -> list[_Turn]:
    """The unpinned history cut at user messages; ``age`` 1 is the newest turn."""
    groups: list[list[int]] = []
    for i, m in enumerate(msgs):
        if i in core:
            continue
        if not groups or m.get("role") in ("user", "human"):
            groups.append([])
        groups[-1].append(i)
    n = len(groups)
    return [_Turn(g, sum(costs[i] for i in g), n - k) for k, g in enumerate(groups)]


def _focus(msgs: list[Mapping[str, Any]]) -> str:
    current = last_user_message(msgs)
    return message_text(current) if current is not None else ""


def _assemble(
    msgs: list[Mapping[str, Any]], kept: list[int], summary: str | None
) -> tuple[list[Mapping[str, Any]], int | None]:
    out = [msgs[i] for i in kept]
    if not summary:
        return out, None
    position = 0
    while position < len(out) and out[position].get("role") in ("system", "developer"):
        position += 1
    out.insert(position, {"role": "system", "content": SUMMARY_PREFIX + summary})
    return out, position
