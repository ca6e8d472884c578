"""Planning ``max_tokens`` from how long answers really are.

:class:`OutputPlanner` learns the distribution of answer lengths per feature, prompt
template and model (from the usage ledger, an audit workload, or any samples) and
plans a cap at a high quantile of it, with a margin. It lowers only caps the caller
did not set (unless told otherwise), and never goes below what the request needs
(a tool call's arguments, a JSON object).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tokenomy.errors import ConfigError

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_QUANTILE",
    "LengthSample",
    "OutputPlanner",
    "template_key",
]

DEFAULT_QUANTILE: Final = 0.98
DEFAULT_MARGIN: Final = 1.25
DEFAULT_MIN_SAMPLES: Final = 20
DEFAULT_MIN_TOKENS: Final = 16
DEFAULT_TOOL_TOKENS: Final = 256
DEFAULT_JSON_TOKENS: Final = 128
_LEVELS: Final = ((0, 1, 2), (0, 1), (0,), (1,), (2,), ())


@dataclass(frozen=True, slots=True)
class LengthSample:
    """One observed answer length.

    Attributes:
        output_tokens: the answer's tokens.
        model: the model that answered.
        feature: the feature tag (``tags["feature"]``).
        template: the prompt template (``tags["template"]`` or :func:`template_key`).
        truncated: the answer was cut by its cap (``finish_reason == "length"``), so
            the real length is unknown and larger.
    """

    output_tokens: int
    model: str | None = None
    feature: str | None = None
    template: str | None = None
    truncated: bool = False


def template_key(messages: Sequence[Mapping[str, Any]] | None) -> str | None:
    """A prompt template's id: a short hash of the system prompt, or None without one."""
    for m in messages or ():
        if m.get("role") in ("system", "developer"):
            content = m.get("content")
            text = content if isinstance(content, str) else str(content)
            return "sys:" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    return None


class OutputPlanner:
    """Plans ``max_tokens`` at a quantile of the answer lengths seen for similar calls.

    Calls are grouped by (feature, template, model); a call is planned from the
    most specific group with at least ``min_samples`` answers, falling back to
    (feature, template), feature, template, model, then all answers.

    Args:
        quantile: the share of answers the cap leaves whole, before the margin
            (default 0.98).
        margin: the cap is the quantile times this (default 1.25).
        min_samples: answers a group needs before it plans (default 20).
        min_tokens: never plan below this (default 16).
        tool_tokens: the least cap of a call with tools (default 256).
        json_tokens: the least cap of a call that asks for JSON (default 128).
        lower_caller_caps: also lower a cap the caller set (default False: a
            caller's cap is left as it is).

    Example:
        >>> planner = OutputPlanner().fit(LengthSample(n, feature="faq") for n in range(1, 101))
        >>> planner.cap_for(feature="faq")   # the 98th percentile, 98 tokens, x 1.25
        123
        >>> planner.cap_for(feature="unknown") is None   # no group of its own: all answers
        False
    """

    def __init__(
        self,
        *,
        quantile: float = DEFAULT_QUANTILE,
        margin: float = DEFAULT_MARGIN,
        min_samples: int = DEFAULT_MIN_SAMPLES,
        min_tokens: int = DEFAULT_MIN_TOKENS,
        tool_tokens: int = DEFAULT_TOOL_TOKENS,
        json_tokens: int = DEFAULT_JSON_TOKENS,
        lower_caller_caps: bool = False,
    ) -> None:
        if not 0.0 < quantile <= 1.0:
            raise ConfigError(f"quantile must be in (0, 1]; got {quantile!r}.")
        if margin < 1.0:
            raise ConfigError(f"margin must be >= 1.0 (a multiplier); got {margin!r}.")
        for name, value in (
            ("min_samples", min_samples),
            ("min_tokens", min_tokens),
            ("tool_tokens", tool_tokens),
            ("json_tokens", json_tokens),
        ):
            if value < 1:
                raise ConfigError(f"{name} must be >= 1; got {value!r}.")
        self.quantile = quantile
        self.margin = margin
        self.min_samples = min_samples
        self.min_tokens = min_tokens
        self.tool_tokens = tool_tokens
        self.json_tokens = json_tokens
        self.lower_caller_caps = lower_caller_caps
        self._caps: dict[tuple[tuple[int, ...], tuple[str | None, ...]], int | None] = {}

    # -- learning ---------------------------------------------------------------------

    def fit(self, samples: Iterable[LengthSample]) -> OutputPlanner:
        """Learn caps from ``samples`` (replacing what was learned); returns self."""
        groups: dict[tuple[tuple[int, ...], tuple[str | None, ...]], list[LengthSample]] = (
            defaultdict(list)
        )
        for s in samples:
            if s.output_tokens < 0:
                raise ConfigError(f"output_tokens must be >= 0; got {s.output_tokens!r}.")
            key = (s.feature, s.template, s.model)
            for level in _LEVELS:
                groups[(level, tuple(key[i] for i in level))].append(s)
        self._caps = {k: self._cap(v) for k, v in groups.items() if len(v) >= self.min_samples}
        return self

    def fit_records(self, records: Iterable[Any]) -> OutputPlanner:
        """Learn from usage records (:class:`tokenomy.UsageRecord`, from a ledger's
        ``records()``): their ``output_tokens``, ``model`` and ``feature`` /
        ``template`` tags; cache hits and errors are left out."""
        return self.fit(
            LengthSample(
                r.output_tokens,
                model=r.model,
                feature=r.tags.get("feature"),
                template=r.tags.get("template"),
                truncated=r.tags.get("finish_reason") == "length",
            )
            for r in records
            if not getattr(r, "cache_hit", False) and getattr(r, "status", "ok") == "ok"
        )

    def _cap(self, samples: list[LengthSample]) -> int | None:
        cut = sum(1 for s in samples if s.truncated)
        if cut / len(samples) > 1.0 - self.quantile:
            return None  # too many answers hit their cap: their real length is unknown
        lengths = sorted(s.output_tokens for s in samples if not s.truncated)
        rank = min(len(lengths) - 1, math.ceil(self.quantile * len(lengths)) - 1)
        return max(self.min_tokens, math.ceil(lengths[max(rank, 0)] * self.margin))

    # -- planning ---------------------------------------------------------------------

    def cap_for(
        self,
        *,
        feature: str | None = None,
        template: str | None = None,
        model: str | None = None,
    ) -> int | None:
        """The learned cap of the most specific group that has one, or None."""
        key = (feature, template, model)
        for level in _LEVELS:
            if any(key[i] is None for i in level):
                continue
            found = self._caps.get((level, tuple(key[i] for i in level)), 0)
            if found != 0:
                return found
        return None

    def floor(self, *, tools: bool, json: bool) -> int:
        """The least cap a request of this kind needs."""
        return max(
            self.min_tokens, self.tool_tokens if tools else 0, self.json_tokens if json else 0
        )

    def plan(self, sent: Any) -> int | None:
        """The cap to send for ``sent`` (the pipeline's ``Sent``), or None to leave the
        caller's (the pipeline's ``OutputPlanner`` protocol)."""
        request = sent.request
        caller = request.max_tokens
        if caller is not None and not self.lower_caller_caps:
            return None
        tags = request.tags or {}
        cap = self.cap_for(
            feature=tags.get("feature"),
            template=tags.get("template") or template_key(request.messages),
            model=sent.model or request.model,
        )
        if cap is None:
            return None
        cap = max(cap, self.floor(tools=bool(request.tools), json=wants_json(request)))
        return cap if caller is None else min(cap, caller)

    @property
    def groups(self) -> int:
        """How many groups have a learned cap."""
        return sum(1 for v in self._caps.values() if v is not None)


def wants_json(request: Any) -> bool:
    """Whether a request asks for JSON (its prompt or messages say so)."""
    texts = [request.prompt or ""] + [str(m.get("content", "")) for m in request.messages]
    return any("json" in t.lower() for t in texts)
