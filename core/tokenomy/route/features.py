"""Complexity features of a prompt, computed in microseconds on a CPU.

Length, question form, code, math, reasoning markers, multiple choice and a few
domain cues. They feed the router's success model next to the embedding
neighbours' outcomes, and explain its decisions.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Final

__all__ = ["FEATURE_NAMES", "complexity_features"]

_CODE = re.compile(
    r"```|\bdef |\bclass |\breturn\b|[{};]\s*$|\bimport |#include|=>|\bSELECT\b", re.M
)
_MATH = re.compile(
    r"\d+\s*[-+*/^=<>]\s*\d+|\\frac|\\sqrt|\bx\^|\b(?:sin|cos|log|lim|integral)\b|[∑∫√π≤≥]"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_REASONING = re.compile(
    r"\b(?:why|explain|prove|derive|step[- ]by[- ]step|justify|compare|analy[sz]e|"
    r"evaluate|calculate|compute|solve|determine|estimate|reason)\b",
    re.I,
)
_CHOICES = re.compile(r"^\s*[A-D][.)]\s", re.M)
_QUESTION = re.compile(r"^\s*(?:what|who|when|where|which|how|why|is|are|does|do|can)\b", re.I)
_DOMAINS: Final = {
    "law": re.compile(
        r"\b(?:court|statute|plaintiff|defendant|contract|tort|constitution)\w*", re.I
    ),
    "medicine": re.compile(
        r"\b(?:patient|diagnos|symptom|clinical|dose|disease|syndrome)\w*", re.I
    ),
    "science": re.compile(
        r"\b(?:molecule|electron|energy|force|cell|reaction|velocity|gene)\w*", re.I
    ),
    "finance": re.compile(
        r"\b(?:tax|revenue|interest rate|asset|liabilit|equity|inflation)\w*", re.I
    ),
}

FEATURE_NAMES: Final = (
    "log_chars",
    "log_words",
    "lines",
    "question",
    "code",
    "math",
    "numbers",
    "reasoning",
    "choices",
    *(f"domain_{d}" for d in _DOMAINS),
)


def complexity_features(text: str) -> list[float]:
    """The prompt's features, in :data:`FEATURE_NAMES` order (counts are log-scaled).

    Example:
        >>> f = dict(zip(FEATURE_NAMES, complexity_features("Prove that 2 + 2 = 4.")))
        >>> f["math"] > 0, f["reasoning"] > 0, f["code"]
        (True, True, 0.0)
    """
    return list(_features(text))


@functools.lru_cache(maxsize=4096)
def _features(text: str) -> tuple[float, ...]:
    """The features of one text, memoized: an audit or a router sees the same prompts
    (templates, retries, repeated questions) many times, and the regexes dominate."""
    words = len(text.split())
    return (
        math.log1p(len(text)),
        math.log1p(words),
        math.log1p(text.count("\n")),
        1.0 if "?" in text or _QUESTION.search(text) else 0.0,
        math.log1p(len(_CODE.findall(text))),
        math.log1p(len(_MATH.findall(text))),
        math.log1p(len(_NUMBER.findall(text))),
        math.log1p(len(_REASONING.findall(text))),
        1.0 if len(_CHOICES.findall(text)) >= 2 else 0.0,
        *(math.log1p(len(p.findall(text))) for p in _DOMAINS.values()),
    )
