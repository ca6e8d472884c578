"""The default segment scorer: two boosted tree ensembles fitted on NaturalQuestions.

``pre`` ranks segments before anything is embedded (words, document words, the
document lead's similarity, answer cues, question type) and picks what is worth
embedding; ``final`` scores every segment with the embedding features added. Both
predict the log-odds that a segment holds the answer to the query. They were fitted by
``scripts/fit_compress_scorer.py`` on questions disjoint from every question
``benchmarks/compress_nq.py`` reports, and ship as plain numbers in
``data/scorer.json`` (see :mod:`tokenomy._trees`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from tokenomy._trees import Trees
from tokenomy.errors import ConfigError

__all__ = ["Ranker", "SegmentScorer"]


class Ranker(Protocol):
    """Scores rows of named feature columns (what :class:`~tokenomy._trees.Trees` does)."""

    @property
    def features(self) -> tuple[str, ...]: ...

    def logits(self, features: Any) -> Any: ...

    def columns(self, named: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class SegmentScorer:
    """What to embed (``pre``) and what to keep (``final``), each a :class:`Ranker`.

    Attributes:
        pre: scores segments from the features known before embedding.
        final: scores segments from all the features.
        model: the embedding model (an ``Embedder.name``) whose similarities it was
            fitted on; the compressor uses the default scorer only with that model.
    """

    pre: Ranker
    final: Ranker
    model: str = "sentence-transformers:all-MiniLM-L6-v2"

    @classmethod
    def default(cls) -> SegmentScorer:
        """The scorer shipped in ``data/scorer.json``."""
        if not _DEFAULT:
            path = resources.files("tokenomy.compress").joinpath("data/scorer.json")
            _DEFAULT.append(cls.from_dict(json.loads(path.read_text("utf-8"))))
        return _DEFAULT[0]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentScorer:
        """From the ``scorer.json`` layout: ``{"pre": trees, "final": trees, ...}``."""
        try:
            pre, final = Trees.from_dict(data["pre"]), Trees.from_dict(data["final"])
            return cls(pre, final, str(data.get("model", cls.model)))
        except KeyError as exc:
            raise ConfigError(f"Malformed scorer weights: missing {exc}.") from exc

    def rank_before_embedding(self, named: dict[str, Any]) -> Any:
        """Log-odds per segment from the features known before embedding."""
        return self.pre.logits(self.pre.columns(named))

    def score(self, named: dict[str, Any]) -> Any:
        """Log-odds per segment from all the features."""
        return self.final.logits(self.final.columns(named))


_DEFAULT: list[SegmentScorer] = []
