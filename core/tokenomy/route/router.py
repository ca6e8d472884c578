"""The router: each request to the cheapest model predicted to answer it well.

Before fitting, a model's predicted success is its table ``quality`` lowered for
complex prompts (math, code, reasoning, length). ``fit(prompts, outcomes)`` learns
from labelled history instead: per model, a logistic model over the prompt's
complexity features and the outcomes of its nearest labelled neighbours (MiniLM
cosine, similarity-weighted). ``route`` then picks the cheapest model whose
predicted success reaches ``quality_target`` among those whose context window fits
the request and that have the capabilities it needs, and explains the choice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.route.features import FEATURE_NAMES, complexity_features
from tokenomy.route.models import ModelSpec, ModelTable
from tokenomy.tokens.counter import DEFAULT_MODEL, TokenCounter

if TYPE_CHECKING:
    import numpy as np

    from tokenomy.embed import Embedder

__all__ = [
    "DEFAULT_EXPECTED_OUTPUT_TOKENS",
    "DEFAULT_QUALITY_TARGET",
    "BudgetView",
    "RouteDecision",
    "Router",
]

DEFAULT_QUALITY_TARGET: Final = 0.7
"""Predicted success the chosen model must reach (``route.quality_target``)."""
DEFAULT_EXPECTED_OUTPUT_TOKENS: Final = 256
"""Assumed answer length for expected costs, tokens (``route.expected_output_tokens``)."""

log = logging.getLogger(__name__)

_PRIOR_WEIGHT = 2.0  # pseudo-neighbours at the model's mean success rate
_L2 = 1.0


@dataclass(frozen=True)
class RouteDecision:
    """Which model, and why.

    Attributes:
        model: the chosen model's name.
        success: predicted success probability per candidate model.
        expected_cost_usd: expected cost per candidate model.
        features: the prompt's complexity features.
        reason: one sentence.
    """

    model: str
    success: Mapping[str, float]
    expected_cost_usd: Mapping[str, float]
    features: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.model}: {self.reason}"


class BudgetView(Protocol):
    """What the router reads of a spending budget (:class:`tokenomy.budget.BudgetStatus`)."""

    @property
    def limit_usd(self) -> float: ...
    @property
    def low_share(self) -> float: ...
    @property
    def spent_usd(self) -> float: ...
    @property
    def remaining_share(self) -> float: ...
    @property
    def state(self) -> Literal["ok", "low", "exhausted"]: ...


class Router:
    """Picks the cheapest model that will answer a prompt well.

    Args:
        models: the model table (default: :meth:`ModelTable.default`).
        quality_target: the predicted success a model must reach (default 0.7); the
            most likely model wins when none does. None: no absolute floor.
        tolerance: the cost-quality trade-off: a model may be at most this much less
            likely to succeed than the most likely candidate (default None: not
            used). With outcomes fitted, this ranks requests by the predicted gain
            of the stronger model, which is what ``benchmarks/route_mmlu.py`` sweeps.
        neighbours: labelled neighbours consulted per prompt after ``fit`` (32).
        expected_output_tokens: assumed answer length for expected costs (256).
        embedder: embeds prompts for the neighbour estimate (default: MiniLM).
        model: counts prompt tokens with this model's tokenizer.

    Example:
        >>> router = Router(ModelTable.from_prices({"small": ("gpt-4o-mini", 0.65),
        ...                                         "large": ("gpt-4o", 0.85)}),
        ...                 quality_target=0.6)
        >>> router.route("What is the capital of France?").model
        'small'
        >>> router.route("Prove that there are infinitely many primes, step by step, "
        ...              "and derive the density of primes below n.").model
        'large'
    """

    def __init__(
        self,
        models: ModelTable | Sequence[ModelSpec] | None = None,
        *,
        quality_target: float | None = DEFAULT_QUALITY_TARGET,
        tolerance: float | None = None,
        neighbours: int = 32,
        expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS,
        embedder: Embedder | None = None,
        model: str = DEFAULT_MODEL,
    ) -> None:
        if quality_target is not None and not 0.0 <= quality_target <= 1.0:
            raise ConfigError(f"quality_target must be in [0, 1]; got {quality_target!r}.")
        if tolerance is not None and not 0.0 <= tolerance <= 1.0:
            raise ConfigError(f"tolerance must be in [0, 1]; got {tolerance!r}.")
        self.models = (
            models
            if isinstance(models, ModelTable)
            else (ModelTable(models) if models is not None else ModelTable.default())
        )
        self.quality_target = quality_target
        self.tolerance = tolerance
        self.neighbours = neighbours
        self.expected_output_tokens = expected_output_tokens
        self.counter = TokenCounter(model)
        self._embedder = embedder
        self._fitted: _Fitted | None = None

    embedder = EmbedderOrDefault()

    @property
    def fitted(self) -> bool:
        return self._fitted is not None

    def check_names(self, names: Collection[str]) -> None:
        """Raise ConfigError unless the table describes every model in ``names``."""
        missing = set(names) - set(self.models.names)
        if missing:
            raise ConfigError(
                f"the router's table has no entry for {sorted(missing)}; it has "
                f"{self.models.names}. Describe them with ModelSpec(...)."
            )

    # -- learning ---------------------------------------------------------------------

    def fit(
        self,
        prompts: Sequence[str],
        outcomes: Mapping[str, Sequence[bool | float | None]],
        *,
        vectors: np.ndarray | None = None,
    ) -> Router:
        """Learn each model's success from labelled history.

        Args:
            prompts: the past prompts.
            outcomes: per model name, one outcome per prompt: True/1.0 for a good
                answer, False/0.0 for a bad one, None when that model was not tried.
            vectors: the prompts' embeddings, if already computed (unit rows).
        """
        import numpy as np

        unknown = set(outcomes) - set(self.models.names)
        if unknown:
            raise ConfigError(f"outcomes for models not in the table: {sorted(unknown)}.")
        for name, values in outcomes.items():
            if len(values) != len(prompts):
                raise ConfigError(
                    f"{len(values)} outcomes for {name!r} but {len(prompts)} prompts."
                )
        if len(prompts) < 2:
            raise ConfigError("fit needs at least two labelled prompts.")
        names = list(outcomes)
        y = np.array(
            [[np.nan if v is None else float(v) for v in outcomes[n]] for n in names],
            dtype=np.float64,
        ).T
        h = vectors if vectors is not None else self.embedder.embed(list(prompts))
        h = np.asarray(h, dtype=np.float32)
        x = np.array([complexity_features(p) for p in prompts], dtype=np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        knn = _neighbour_rates(h, y, self.neighbours, leave_one_out=True)
        weights = {}
        for j, name in enumerate(names):
            seen = ~np.isnan(y[:, j])
            design = _design((x[seen] - mean) / std, knn[seen, j])
            weights[name] = _logistic(design, y[seen, j])
        self._fitted = _Fitted(names, h, y, mean, std, weights, getattr(self.embedder, "name", ""))
        return self

    # -- prediction and routing -----------------------------------------------------------

    def predict(
        self,
        prompt: str,
        *,
        vector: np.ndarray | None = None,
        features: list[float] | None = None,
    ) -> dict[str, float]:
        """Predicted success probability of each model on ``prompt`` (``features``: its
        :func:`complexity_features`, if already computed)."""
        feats = features if features is not None else complexity_features(prompt)
        fitted = self._fitted
        out = {m.name: _prior(m, feats) for m in self.models}
        if fitted is None:
            return out
        import numpy as np

        v = vector if vector is not None else self.embedder.embed([prompt])[0]
        knn = _neighbour_rates(fitted.h, fitted.y, self.neighbours, query=np.asarray(v))[0]
        x = (np.array(feats) - fitted.mean) / fitted.std
        for j, name in enumerate(fitted.names):
            design = _design(x[None, :], knn[None, j])
            out[name] = float(_sigmoid(design @ fitted.weights[name])[0])
        return out

    def route(
        self,
        prompt: str,
        *,
        input_tokens: int | None = None,
        require: Collection[str] = (),
        budget: BudgetView | None = None,
        quality_target: float | None = None,
        vector: np.ndarray | None = None,
        among: Collection[str] | None = None,
    ) -> RouteDecision:
        """Choose a model for ``prompt``.

        Args:
            prompt: the request's text (its last user message, or all of it).
            input_tokens: the request's prompt tokens (default: counted from ``prompt``).
            require: capabilities the request needs (``"tools"``, ``"vision"``, ``"json"``).
            budget: a spending budget; when low the router picks cheaper models,
                when exhausted it raises :class:`BudgetExceededError`.
            quality_target: overrides the router's target for this request.
            vector: the prompt's embedding, if already computed.
            among: only these models of the table are candidates (default: all).
        """
        target = self.quality_target if quality_target is None else quality_target
        tokens = input_tokens if input_tokens is not None else self.counter.count(prompt)
        state = budget.state if budget is not None else "ok"
        if state == "exhausted":
            assert budget is not None
            raise BudgetExceededError(
                f"the spending budget of ${budget.limit_usd:.2f} is used up "
                f"(${budget.spent_usd:.2f} spent); raise it or start a new period."
            )
        pool = [m for m in self.models if among is None or m.name in among] or list(self.models)
        capable = [m for m in pool if set(require) <= m.capabilities] or pool
        fitting = [m for m in capable if m.fits(tokens)]
        note = ""
        if not fitting:
            fitting = [max(capable, key=lambda m: m.context_window or 0)]
            note = f"; no model fits {tokens} tokens, sending to the largest window"
        features = complexity_features(prompt)
        success = self.predict(prompt, vector=vector, features=features)
        costs = {m.name: m.cost_usd(tokens, self.expected_output_tokens) for m in fitting}
        scale = 1.0
        if state == "low":
            assert budget is not None
            scale = budget.remaining_share / max(budget.low_share, 1e-9)
        name, reason = self.choose(
            {m.name: success[m.name] for m in fitting},
            costs,
            quality_target=None if target is None else target * scale,
            tolerance=None if self.tolerance is None else 1 - (1 - self.tolerance) * scale,
        )
        chosen = self.models[name]
        reason += note
        if state == "low":
            reason += " (budget low: bar lowered)"
        return RouteDecision(
            chosen.name,
            {m.name: success[m.name] for m in fitting},
            costs,
            dict(zip(FEATURE_NAMES, features, strict=True)),
            reason,
        )

    def route_or_best(self, prompt: str, **options: Any) -> RouteDecision:
        """:meth:`route`, but if routing itself fails (an embedder that cannot load…)
        the highest-quality model, with a warning: routing never fails a call. An
        exhausted budget still raises :class:`BudgetExceededError`."""
        try:
            return self.route(prompt, **options)
        except BudgetExceededError:
            raise
        except Exception as exc:
            log.warning("tokenomy: routing failed (%r); using the highest-quality model.", exc)
            best = max(self.models, key=lambda m: m.quality)
            return RouteDecision(best.name, {}, {}, {}, f"routing failed ({type(exc).__name__})")

    @staticmethod
    def choose(
        success: Mapping[str, float],
        costs: Mapping[str, float],
        *,
        quality_target: float | None,
        tolerance: float | None,
    ) -> tuple[str, str]:
        """The routing rule: the cheapest model over the bar, and why.

        The bar is ``quality_target`` and, with ``tolerance``, the best predicted
        success minus ``tolerance``; when no model clears it, the most likely wins.
        """
        best = max(success.values())
        bar = max(
            quality_target if quality_target is not None else 0.0,
            best - tolerance if tolerance is not None else 0.0,
        )
        good = [m for m in costs if success[m] >= bar]
        if good:
            name = min(good, key=lambda m: costs[m])
            return name, f"cheapest with predicted success >= {bar:.2f} ({success[name]:.2f})"
        name = max(costs, key=lambda m: (success[m], -costs[m]))
        return name, f"no model reaches {bar:.2f}; the most likely one"

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write what ``fit`` learned to ``path`` (a ``.npz`` file)."""
        import numpy as np

        if self._fitted is None:
            raise ConfigError("nothing to save: call fit(...) first.")
        f = self._fitted
        meta = {"names": f.names, "embedder": f.embedder, "features": list(FEATURE_NAMES)}
        np.savez_compressed(
            Path(path),
            h=f.h,
            y=f.y,
            mean=f.mean,
            std=f.std,
            weights=np.stack([f.weights[n] for n in f.names]),
            meta=np.array(json.dumps(meta)),
        )

    def load(self, path: str | Path) -> Router:
        """Read what :meth:`save` wrote; the models must be in this router's table."""
        import numpy as np

        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["features"] != list(FEATURE_NAMES):
                raise ConfigError(f"{path} was fitted with other features; fit again.")
            embedder = getattr(self.embedder, "name", "")
            if meta["embedder"] != embedder:
                raise ConfigError(
                    f"{path} was fitted with embedder {meta['embedder']!r}, this router "
                    f"uses {embedder!r}; pass the same embedder or fit again."
                )
            missing = set(meta["names"]) - set(self.models.names)
            if missing:
                raise ConfigError(f"{path} has models not in this table: {sorted(missing)}.")
            weights = dict(zip(meta["names"], data["weights"], strict=True))
            self._fitted = _Fitted(
                meta["names"], data["h"], data["y"], data["mean"], data["std"], weights, embedder
            )
        return self


@dataclass
class _Fitted:
    names: list[str]
    h: Any
    y: Any
    mean: Any
    std: Any
    weights: dict[str, Any]
    embedder: str


def _prior(model: ModelSpec, features: list[float]) -> float:
    """Unfitted success estimate: the table quality, lowered for complex prompts."""
    f = dict(zip(FEATURE_NAMES, features, strict=True))
    hard = min(1.0, (f["math"] + f["code"] + f["reasoning"]) / 3 + max(0.0, f["log_words"] - 4) / 4)
    return float(model.quality ** (1.0 + 2.0 * hard))


def _design(x: np.ndarray, knn: np.ndarray) -> np.ndarray:
    import numpy as np

    logit = np.log(np.clip(knn, 1e-3, 1 - 1e-3) / np.clip(1 - knn, 1e-3, 1))
    return np.column_stack([x, logit, np.ones(len(x))])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    return out


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 25) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (the bias unpenalised)."""
    import numpy as np

    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], _L2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w


def _neighbour_rates(
    h: np.ndarray,
    y: np.ndarray,
    k: int,
    *,
    query: np.ndarray | None = None,
    leave_one_out: bool = False,
) -> np.ndarray:
    """Similarity-weighted success rate of each model among the k nearest labelled prompts."""
    import numpy as np

    prior = np.nanmean(y, axis=0)
    queries = h if query is None else np.asarray(query, dtype=np.float32).reshape(1, -1)
    out = np.empty((len(queries), y.shape[1]))
    k = min(k, len(h) - (1 if leave_one_out else 0))
    known = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    for start in range(0, len(queries), 1024):
        sims = queries[start : start + 1024] @ h.T
        if leave_one_out:
            rows = np.arange(start, min(start + 1024, len(queries)))
            sims[rows - start, rows] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None) ** 2
        hits = np.einsum("qk,qkm->qm", w, y0[top])
        seen = np.einsum("qk,qkm->qm", w, known[top].astype(np.float64))
        out[start : start + len(sims)] = (hits + _PRIOR_WEIGHT * prior) / (seen + _PRIOR_WEIGHT)
    return out
