"""The router: each request to the cheapest model predicted to answer it well.

Before fitting, a model's predicted success comes from the default prior
(:mod:`tokenomy.route.prior`): its table ``quality`` tier and the prompt, with
coefficients fitted on public outcome data; outcomes added with ``update`` correct
it through the nearest labelled prompts, weighted by closeness. ``fit(prompts,
outcomes)`` learns from labelled history instead: per model, a logistic model over
the prompt's complexity features and the outcomes of its nearest labelled
neighbours (MiniLM cosine, similarity-weighted); ``update`` adds to those
neighbours. ``route`` then picks the cheapest model whose predicted success reaches
``quality_target`` among those whose context window fits the request and that have the
capabilities it needs, and explains the choice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from tokenomy.embed import EmbedderOrDefault
from tokenomy.errors import BudgetExceededError, ConfigError
from tokenomy.route import _learn
from tokenomy.route._state import Fitted, Memory, features_only, load_fitted, save_fitted
from tokenomy.route.features import FEATURE_NAMES, complexity_features
from tokenomy.route.models import ModelSpec, ModelTable
from tokenomy.route.prior import TierPrior, prior_features
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
        prior: the success model used before ``fit`` (default: the shipped
            :meth:`TierPrior.default`, fitted on public MMLU and MT-Bench outcomes).

    Example:
        >>> router = Router(ModelTable.from_prices({"small": ("gpt-4o-mini", 0.65),
        ...                                         "large": ("gpt-4o", 0.85)}),
        ...                 quality_target=0.6)
        >>> router.route("What is the capital of France?").model
        'small'
        >>> s = router.predict("Solve for x: 3x^2 - 12x + 9 = 0, showing each step.")
        >>> s["small"] <= s["large"] < router.predict("Write a poem about the sea.")["large"]
        True
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
        prior: TierPrior | None = None,
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
        self._prior = prior
        self._fitted: Fitted | None = None
        self._memory: Memory | None = None
        self._prior_failed = False

    embedder = EmbedderOrDefault()

    @property
    def fitted(self) -> bool:
        return self._fitted is not None

    @property
    def prior(self) -> TierPrior:
        """The success model before ``fit`` (the shipped default unless given)."""
        if self._prior is None:
            self._prior = TierPrior.default()
        return self._prior

    @property
    def outcomes_seen(self) -> int:
        """Outcomes added with :meth:`update` (not counting ``fit``'s)."""
        return 0 if self._memory is None else len(self._memory.y)

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
        knn = _learn.neighbour_rates(h, y, self.neighbours, leave_one_out=True)
        weights = {}
        for j, name in enumerate(names):
            seen = ~np.isnan(y[:, j])
            design = _learn.design((x[seen] - mean) / std, knn[seen, j])
            weights[name] = _learn.logistic(design, y[seen, j])
        self._fitted = Fitted(names, h, y, mean, std, weights, getattr(self.embedder, "name", ""))
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
        fitted = self._fitted
        if fitted is None:
            return self._predict_prior(prompt, vector)
        import numpy as np

        feats = features if features is not None else complexity_features(prompt)
        v = vector if vector is not None else self.embedder.embed([prompt])[0]
        knn = _learn.neighbour_rates(fitted.h, fitted.y, self.neighbours, query=np.asarray(v))[0]
        x = (np.array(feats) - fitted.mean) / fitted.std
        out = self._prior_only(prompt, v)  # models the fit saw no outcomes of
        for j, name in enumerate(fitted.names):
            design = _learn.design(x[None, :], knn[None, j])
            out[name] = float(_learn.sigmoid(design @ fitted.weights[name])[0])
        return out

    def _prior_vector(
        self, prompt: str, vector: np.ndarray | None, *, always: bool = False
    ) -> np.ndarray | None:
        """The prompt's embedding when the prior or the outcome memory needs one (None
        if the embedder fails: logged once, the prior then reads features only)."""
        prior = self.prior
        needs = (
            always
            or self._memory is not None
            or (prior.uses_embeddings and getattr(self.embedder, "name", "") == prior.embedder)
        )
        if vector is not None or not needs:
            return vector
        try:
            out: np.ndarray = self.embedder.embed([prompt])[0]
            return out
        except Exception as exc:
            if not self._prior_failed:
                self._prior_failed = True
                log.warning("tokenomy: the router cannot embed (%r); features only.", exc)
            return None

    def _prior_only(self, prompt: str, vector: np.ndarray | None) -> dict[str, float]:
        import numpy as np

        prior = self.prior
        usable = (
            vector
            if prior.uses_embeddings and getattr(self.embedder, "name", "") == prior.embedder
            else None
        )
        if prior.uses_embeddings and usable is None:
            prior = features_only(prior)
        feats = np.array([prior_features(prompt)])
        vecs = None if usable is None else np.asarray(usable).reshape(1, -1)
        p = prior.success([m.quality for m in self.models], feats, vecs)[0]
        return {m.name: float(x) for m, x in zip(self.models, p, strict=True)}

    def _predict_prior(self, prompt: str, vector: np.ndarray | None) -> dict[str, float]:
        import numpy as np

        v = self._prior_vector(prompt, vector)
        out = self._prior_only(prompt, v)
        memory = self._memory
        if memory is None or v is None or not len(memory.y):
            return out
        h, residuals = memory.arrays()
        fix = _learn.residual_correction(
            h,
            residuals,
            self.neighbours,
            np.asarray(v),
            self.prior.knn_strength,
        )
        for j, name in enumerate(self.models.names):
            out[name] = float(np.clip(out[name] + fix[j], 0.001, 0.999))
        return out

    def success_at(self, prompt: str, quality: float) -> float:
        """The prior's predicted success on ``prompt`` of a model of tier ``quality``
        that is not in the table (e.g. the model a logged call used)."""
        import numpy as np

        prior = self.prior
        v = self._prior_vector(prompt, None) if prior.uses_embeddings else None
        usable = v is not None and getattr(self.embedder, "name", "") == prior.embedder
        if not usable:
            prior = features_only(prior) if prior.uses_embeddings else prior
        feats = np.array([prior_features(prompt)])
        vecs = np.asarray(v).reshape(1, -1) if usable and v is not None else None
        return float(prior.success([quality], feats, vecs)[0, 0])

    def update(
        self,
        prompt: str,
        model: str,
        outcome: bool | float,
        *,
        vector: np.ndarray | None = None,
    ) -> None:
        """Learn from one outcome as it arrives: the app's feedback on an answer, a
        judge's score, or a cascade escalation (the cheaper model's answer failed).

        No batch refit: the outcome joins the labelled neighbours, so prompts close
        to it see its verdict, weighted by closeness (after ``fit``: next to the
        fitted history; before: as a correction of the default prior).

        Args:
            prompt: the prompt the model answered.
            model: a model of the table.
            outcome: True/1.0 a good answer, False/0.0 a bad one (a score in [0, 1]).
            vector: the prompt's embedding, if already computed.
        """
        import numpy as np

        self.check_names([model])
        value = float(outcome)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"outcome must be in [0, 1] (or a bool); got {outcome!r}.")
        found = self._prior_vector(prompt, vector, always=True)
        if found is None:
            return  # the embedder failed (logged once): the outcome cannot be placed
        v = np.asarray(found, dtype=np.float32)
        fitted = self._fitted
        if fitted is not None:
            known = np.full((1, len(fitted.names)), np.nan)
            if model in fitted.names:
                known[0, fitted.names.index(model)] = value
                fitted.h = np.vstack([fitted.h, v[None, :]])
                fitted.y = np.vstack([fitted.y, known])
            return
        names = self.models.names
        base = self._prior_only(prompt, v)
        row = [np.nan] * len(names)
        row[names.index(model)] = value
        if self._memory is None:
            self._memory = Memory([], [], [])
        self._memory.add(v, row, [base[n] for n in names])

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
        """Write what ``fit`` learned (and outcomes added since) to ``path`` (``.npz``)."""
        if self._fitted is None:
            raise ConfigError("nothing to save: call fit(...) first.")
        save_fitted(self._fitted, path)

    def load(self, path: str | Path) -> Router:
        """Read what :meth:`save` wrote; the models must be in this router's table."""
        self._fitted = load_fitted(path, self.models.names, getattr(self.embedder, "name", ""))
        return self
