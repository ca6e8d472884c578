"""Settings from keyword arguments or, explicitly, from ``TOKENOMY_*`` environment variables.

Nothing reads the environment at import time. ``Settings()`` (or
``Settings.from_env()``) reads variables named ``TOKENOMY_<GROUP>__<FIELD>``, e.g.
``TOKENOMY_MONITOR__LEDGER_PATH=usage.db``; the README's settings table lists them.

Settings sits above the techniques (it builds them), so each default here is the
technique's own named constant (``tokenomy.compress.DEFAULT_RATIO``…), never a second
literal: a component built without Settings and one built from default Settings agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokenomy.audit.sampling import DEFAULT_SAMPLE_ABOVE, DEFAULT_SAMPLE_CALLS, Sampling
from tokenomy.budget import (
    DEFAULT_THRESHOLDS,
    Alerts,
    AlertSink,
    Budget,
    Limit,
    LoggingSink,
    RedisBudget,
    SpendAnomalyDetector,
    SpendBudget,
    WebhookSink,
)
from tokenomy.budget.anomaly import DEFAULT_Z_THRESHOLD
from tokenomy.budget.forecast import DEFAULT_HORIZON_DAYS
from tokenomy.budget.limits import DEFAULT_LOW_SHARE
from tokenomy.budget.redis import DEFAULT_FALLBACK_SHARE
from tokenomy.cache import CacheTier, DiskTier, MemoryTier, RedisTier, SemanticCache
from tokenomy.cache.tiers.disk import DEFAULT_DISK_BYTES
from tokenomy.cache.tiers.memory import DEFAULT_MEMORY_BYTES
from tokenomy.compress import (
    DEFAULT_GRANULARITY,
    DEFAULT_MIN_TOKENS,
    DEFAULT_RATIO,
    DEFAULT_REDUNDANCY,
    ExtractiveCompressor,
    MessageCompression,
)
from tokenomy.context import ConversationWindow
from tokenomy.context.window import (
    DEFAULT_DECAY,
    DEFAULT_HALF_LIFE_TURNS,
    DEFAULT_OVERLAP_TOKENS,
    DEFAULT_WINDOW_TOKENS,
)
from tokenomy.monitor.ledger import BaseLedger, InMemoryLedger
from tokenomy.output import OutputControl, OutputPlanner
from tokenomy.output.control import DEFAULT_STOP_ON, CutAtSetting
from tokenomy.output.planner import DEFAULT_QUANTILE
from tokenomy.route import ModelTable, Router
from tokenomy.route.router import DEFAULT_EXPECTED_OUTPUT_TOKENS, DEFAULT_QUALITY_TARGET
from tokenomy.select import ExampleCompression, ExampleSelector
from tokenomy.select.compress import DEFAULT_EXAMPLE_MIN_TOKENS, DEFAULT_EXAMPLE_RATIO
from tokenomy.select.selector import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MAX_TOKENS, DEFAULT_STRATEGY
from tokenomy.tokens.counter import DEFAULT_MODEL
from tokenomy.tokens.prices import PriceTable

if TYPE_CHECKING:
    from tokenomy.telemetry import Telemetry

__all__ = [
    "AlertSettings",
    "AuditSettings",
    "BudgetSettings",
    "CacheSettings",
    "CompressionSettings",
    "ContextSettings",
    "LimitSettings",
    "MonitorSettings",
    "OutputSettings",
    "RouteSettings",
    "SelectSettings",
    "ServeSettings",
    "Settings",
    "TelemetrySettings",
    "TokensSettings",
    "telemetry_from_env",
]


class TokensSettings(BaseModel):
    """Token counting and pricing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: str = Field(
        DEFAULT_MODEL, description="Model assumed when a call does not name one."
    )
    prices_file: Path | None = Field(
        None, description="JSON file whose prices override the bundled table."
    )


class MonitorSettings(BaseModel):
    """Usage ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ledger_path: Path | None = Field(
        None, description="SQLite ledger file; None keeps records in memory."
    )


class CacheSettings(BaseModel):
    """Answer cache (see tokenomy.cache.SemanticCache)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["exact", "semantic"] = Field(
        "semantic", description="Match by meaning or exactly."
    )
    similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Cosine similarity in [0, 1] a cached question must reach before the "
        "verifier judges it (default: the verifier's floor).",
    )
    verifier: Literal["diff", "qqp", "none"] = Field(
        "diff",
        description="Hit verifier: 'diff' reads what differs between the two questions and "
        "refuses answer-changing edits (negation, antonyms, numbers, ...); 'qqp' is the "
        "earlier default (trees fitted on Quora pairs); 'none' trusts the similarity.",
    )
    max_error: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="Keep the share of wrong semantic hits at or under this per scope "
        "(e.g. 0.01), learning from cache.feedback(); None: the verifier's own threshold.",
    )
    max_bytes: int = Field(
        DEFAULT_MEMORY_BYTES, gt=0, description="Memory tier bound, bytes (LRU)."
    )
    disk_path: Path | None = Field(None, description="Folder of the disk tier; None: no disk tier.")
    disk_max_bytes: int = Field(
        DEFAULT_DISK_BYTES, gt=0, description="Disk tier bound, bytes (oldest stored out first)."
    )
    disk_fail_soft: bool = Field(
        False,
        description="If the disk folder cannot be used (read-only, missing), cache in memory "
        "with one warning instead of raising.",
    )
    signing_key: SecretStr | None = Field(
        None,
        description="HMAC key (16+ bytes) signing every disk and Redis entry; entries without "
        "a valid signature are refused. Same key in every process sharing the tiers.",
    )
    redis_url: str | None = Field(None, description="Redis Stack URL of the shared tier.")
    ttl_seconds: float | None = Field(None, gt=0, description="Entry lifetime; None: no expiry.")
    version: str = Field("", description="Bump to invalidate every entry stored before.")
    share_across_scopes: bool = Field(False, description="Let every user see every entry.")


class CompressionSettings(BaseModel):
    """Context compression (see tokenomy.compress.ExtractiveCompressor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratio: float = Field(
        DEFAULT_RATIO, gt=0.0, le=1.0, description="Share of a long message's tokens kept."
    )
    min_retention: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Keep more rather than let the retention estimate fall below this.",
    )
    granularity: Literal["sentence", "paragraph", "document"] = Field(
        DEFAULT_GRANULARITY, description="Unit kept or dropped."
    )
    redundancy: float = Field(
        DEFAULT_REDUNDANCY,
        gt=0.0,
        le=1.0,
        description="Cosine similarity above which a segment is a repeat.",
    )
    min_tokens: int = Field(
        DEFAULT_MIN_TOKENS, ge=1, description="Messages shorter than this are sent uncompressed."
    )
    embed_documents: bool = Field(
        False,
        description="Also embed whole documents: more answers kept at 0.2-0.1, ~4x slower.",
    )


class ContextSettings(BaseModel):
    """Conversation windows (see tokenomy.context.ConversationWindow)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_tokens: int = Field(
        DEFAULT_WINDOW_TOKENS, ge=1, description="Budget of what a call sends."
    )
    overlap_tokens: int = Field(
        DEFAULT_OVERLAP_TOKENS, ge=0, description="Newest turns carried over verbatim, tokens."
    )
    decay: Literal["exponential", "linear", "none"] = Field(
        DEFAULT_DECAY, description="How a turn's recency weight falls with age."
    )
    half_life_turns: float = Field(
        DEFAULT_HALF_LIFE_TURNS, gt=0, description="Age at which that weight halves."
    )
    summarizer: Literal["extractive", "none"] = Field(
        "extractive", description="Summary of evicted turns: local extractive, or none."
    )
    summary_tokens: int | None = Field(
        None, ge=1, description="Budget of that summary (default min(512, window/4))."
    )
    session_budget: int | None = Field(
        None, ge=1, description="Tokens a session may send over all its calls."
    )


class SelectSettings(BaseModel):
    """Few-shot example selection (see tokenomy.select.ExampleSelector)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(DEFAULT_STRATEGY, description="Selection strategy, by name.")
    max_tokens: int | None = Field(
        DEFAULT_MAX_TOKENS, ge=1, description="Budget for all chosen examples."
    )
    max_examples: int | None = Field(None, ge=1, description="At most this many examples.")
    lexical_weight: float = Field(
        DEFAULT_LEXICAL_WEIGHT,
        ge=0.0,
        description="Weight of shared rare words, added to the cosine similarity.",
    )
    compress_fields: list[str] = Field(
        default_factory=list,
        description="Example fields shortened as they join the pool (e.g. context); "
        "empty: examples are shown whole.",
    )
    compress_ratio: float = Field(
        DEFAULT_EXAMPLE_RATIO,
        gt=0.0,
        le=1.0,
        description="Share of a compressed field's tokens kept.",
    )
    compress_min_tokens: int = Field(
        DEFAULT_EXAMPLE_MIN_TOKENS, ge=1, description="Fields shorter than this stay whole."
    )


class RouteSettings(BaseModel):
    """Model routing (see tokenomy.route.Router)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality_target: float | None = Field(
        DEFAULT_QUALITY_TARGET,
        ge=0.0,
        le=1.0,
        description="Predicted success the chosen model must reach.",
    )
    tolerance: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="How much less likely to succeed than the best candidate a model may be.",
    )
    expected_output_tokens: int = Field(
        DEFAULT_EXPECTED_OUTPUT_TOKENS,
        ge=1,
        description="Assumed answer length for expected costs.",
    )
    fitted_path: Path | None = Field(
        None, description="A router saved by Router.save(), loaded by Settings.router()."
    )


# -- spend control (budget.*, alerts.*): see docs/budgets.md ------------------------------


class LimitSettings(BaseModel):
    """One spend limit (see tokenomy.budget.Limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float = Field(gt=0, description="The limit in USD.")
    window: Literal["minute", "hour", "day", "month", "total"] = Field(
        "total", description="Calendar window (UTC), or total: never resets."
    )
    rolling: bool = Field(False, description="The last minute/hour/24 h/30 days instead.")
    per: str | None = Field(None, description="Split by this label: user, feature, model, a tag.")
    where: dict[str, str] = Field({}, description="Cover only calls with these labels.")
    action: Literal["block", "alert"] = Field("block", description="Hard (refuse) or soft.")
    name: str = Field("", description="Names the limit in keys, errors and alerts.")
    low_share: float = Field(
        DEFAULT_LOW_SHARE, ge=0, lt=1, description="Share left under which routing gets cheaper."
    )
    fair_by: str | None = Field(None, description="Label naming the tenant, for fair shares.")
    weights: dict[str, float] = Field({}, description="Tenant -> weight ('*': the others).")
    guaranteed: float = Field(1.0, ge=0, le=1, description="Part of each share kept for it.")

    def limit(self) -> Limit:
        return Limit(**self.model_dump())


class BudgetSettings(BaseModel):
    """Spend limits, local or shared in Redis (see tokenomy.budget)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    total_usd: float | None = Field(
        None, gt=0, description="One limit over every call (the seed's PIPELINE_TOKEN_BUDGET)."
    )
    window: Literal["minute", "hour", "day", "month", "total"] = Field(
        "month", description="Window of total_usd."
    )
    fair_by: str | None = Field(
        None, description="Share total_usd between tenants named by this label."
    )
    weights: dict[str, float] = Field(
        {}, description="Tenant -> weight of total_usd (PRIORITY_TOKEN_ALLOCATION)."
    )
    guaranteed: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Part of each tenant's share kept for it (FAIRNESS_GUARANTEED).",
    )
    limits: tuple[LimitSettings, ...] = Field((), description="More limits (JSON list in env).")
    low_share: float = Field(DEFAULT_LOW_SHARE, ge=0, lt=1, description="See LimitSettings.")
    redis_url: str | None = Field(None, description="Share the limits across processes.")
    prefix: str = Field("tokenomy:budget:", description="Redis key prefix.")
    fallback_share: float = Field(
        DEFAULT_FALLBACK_SHARE, ge=0, le=1, description="Share one process may spend, Redis down."
    )
    retry_s: float = Field(1.0, gt=0, description="Seconds between attempts to reach Redis.")
    rejoin_s: float = Field(5.0, gt=0, description="Fallback kept after Redis restarted empty.")
    timeout_s: float = Field(1.0, gt=0, description="Redis socket timeout, seconds.")


class AlertSettings(BaseModel):
    """Spend alerts (see tokenomy.budget.Alerts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Send alerts at all (the seed's BUDGET_ALERTING).")
    thresholds: tuple[float, ...] = Field(
        DEFAULT_THRESHOLDS, description="Shares of a limit that alert, once per window each."
    )
    log: bool = Field(True, description="Log each alert (WARNING).")
    webhook_url: str | None = Field(None, description="POST each alert as JSON here.")
    webhook_token: SecretStr | None = Field(None, description="Sent as 'Authorization: Bearer'.")
    anomaly_z: float = Field(
        DEFAULT_Z_THRESHOLD, gt=0, description="Robust z-score of an anomalous hour."
    )
    forecast_horizon_days: int = Field(
        DEFAULT_HORIZON_DAYS, ge=1, description="Days a forecast covers (FORECAST_HORIZON_DAYS)."
    )


class OutputSettings(BaseModel):
    """Response length control (see tokenomy.output.OutputControl)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(
        None, ge=1, description="Cap sent when the caller sets none and nothing is planned."
    )
    quantile: float = Field(
        DEFAULT_QUANTILE,
        gt=0.0,
        le=1.0,
        description="Share of a group's answers the planned cap leaves whole (before a "
        "1.25x margin); learned from the ledger at monitor.ledger_path.",
    )
    cut_at: CutAtSetting = Field(
        "sentence", description="Where an answer still cut by its cap is cut back to."
    )
    continue_max: int = Field(
        0, ge=0, description="Times to ask the model to continue an answer cut by its cap."
    )
    stop_on: tuple[str, ...] = Field(
        DEFAULT_STOP_ON,
        description="Stream-monitor criteria: loop, json, stop, budget, validator.",
    )


class TelemetrySettings(BaseModel):
    """OpenTelemetry spans and metrics of every recorded call (see
    tokenomy.telemetry.Telemetry); exporters are configured the OpenTelemetry way
    (``OTEL_EXPORTER_OTLP_ENDPOINT``…)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description="Export spans and metrics from enable() in both frameworks and from "
        "the gateway, without code changes.",
    )
    capture_content: bool = Field(
        False, description="Add prompt and answer text to spans (off: no text leaves)."
    )
    user_ids: Literal["hashed", "plain", "off"] = Field(
        "hashed", description="How the 'user' tag appears on spans (never a metric label)."
    )


class ServeSettings(BaseModel):
    """The gateway, ``tokenomy serve`` (its models, tenants and cache are in its own
    configuration file; see docs/gateway.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config_file: Path | None = Field(None, description="The gateway's YAML configuration.")
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port).")
    workers: int = Field(1, ge=1, description="Processes sharing the port.")


class AuditSettings(BaseModel):
    """``tokenomy audit`` on large workloads (see tokenomy.audit.sampling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_above: int = Field(
        DEFAULT_SAMPLE_ABOVE,
        ge=0,
        description="Beyond this many calls, the model-heavy columns (semantic cache, "
        "compression, few-shot, routing) are estimated on a stratified sample, with an "
        "interval; at or below it they are exact.",
    )
    sample_calls: int = Field(
        DEFAULT_SAMPLE_CALLS, ge=1, description="About how many calls the sample holds."
    )
    confidence: float = Field(
        0.95, gt=0.0, lt=1.0, description="Confidence level of the sampled intervals."
    )
    seed: int = Field(0, description="Seed of the sample's random draw.")

    def sampling(self) -> Sampling:
        """The :class:`~tokenomy.audit.sampling.Sampling` these settings describe."""
        return Sampling(
            above=self.sample_above,
            calls=self.sample_calls,
            confidence=self.confidence,
            seed=self.seed,
        )


class Settings(BaseSettings):
    """All tokenomy settings, grouped by concern.

    Example:
        >>> Settings(monitor={"ledger_path": None}).ledger().__class__.__name__
        'InMemoryLedger'
    """

    model_config = SettingsConfigDict(
        env_prefix="TOKENOMY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    tokens: TokensSettings = TokensSettings()
    monitor: MonitorSettings = MonitorSettings()
    cache: CacheSettings = CacheSettings()
    compression: CompressionSettings = CompressionSettings()
    context: ContextSettings = ContextSettings()
    select: SelectSettings = SelectSettings()
    route: RouteSettings = RouteSettings()
    budget: BudgetSettings = BudgetSettings()
    alerts: AlertSettings = AlertSettings()
    output: OutputSettings = OutputSettings()
    serve: ServeSettings = ServeSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    audit: AuditSettings = AuditSettings()

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``TOKENOMY_*`` environment variables (the only place tokenomy does)."""
        return cls()

    def price_table(self) -> PriceTable:
        """The bundled prices, overridden by ``tokens.prices_file`` when set."""
        table = PriceTable.default()
        if self.tokens.prices_file is not None:
            table = table.with_file(self.tokens.prices_file)
        return table

    def ledger(self) -> BaseLedger:
        """A SQLite ledger at ``monitor.ledger_path``, or an in-memory one."""
        if self.monitor.ledger_path is None:
            return InMemoryLedger()
        from tokenomy.monitor.sqlite import SQLiteLedger

        return SQLiteLedger(self.monitor.ledger_path)

    def answer_cache(self) -> SemanticCache:
        """A cache with the tiers ``cache.*`` describes: memory, then disk and Redis if set."""
        c = self.cache
        tiers: list[CacheTier] = [MemoryTier(max_bytes=c.max_bytes)]
        key = c.signing_key.get_secret_value() if c.signing_key is not None else None
        if c.disk_path is not None:
            disk = DiskTier.open(
                c.disk_path, max_bytes=c.disk_max_bytes, fail_soft=c.disk_fail_soft, signing_key=key
            )
            if isinstance(disk, DiskTier):  # fail-soft: the memory tier above is the fallback
                tiers.append(disk)
        if c.redis_url:
            tiers.append(RedisTier(c.redis_url, signing_key=key))
        return SemanticCache(
            tiers=tiers,
            mode=c.mode,
            similarity=c.similarity,
            verifier=None if c.verifier == "none" else c.verifier,
            max_error=c.max_error,
            ttl_seconds=c.ttl_seconds,
            version=c.version,
            share_across_scopes=c.share_across_scopes,
            prices=self.price_table(),
        )

    def compressor(self) -> ExtractiveCompressor:
        """A compressor for ``tokens.default_model`` with ``compression.*``'s options."""
        c = self.compression
        return ExtractiveCompressor(
            model=self.tokens.default_model,
            granularity=c.granularity,
            redundancy=c.redundancy,
            embed_documents=c.embed_documents,
        )

    def message_compression(self) -> MessageCompression:
        """Which chat messages a context stage compresses and how far: ``compression.ratio``,
        ``compression.min_tokens`` and ``compression.min_retention``."""
        c = self.compression
        return MessageCompression(
            ratio=c.ratio, min_tokens=c.min_tokens, min_retention=c.min_retention
        )

    def window(self) -> ConversationWindow:
        """A conversation window with ``context.*``'s options."""
        c = self.context
        return ConversationWindow(
            max_tokens=c.window_tokens,
            overlap_tokens=c.overlap_tokens,
            decay=c.decay,
            half_life_turns=c.half_life_turns,
            summarizer=None if c.summarizer == "none" else "extractive",
            summary_tokens=c.summary_tokens,
            session_budget=c.session_budget,
            model=self.tokens.default_model,
        )

    def example_selector(
        self, examples: Sequence[Mapping[str, Any]] = (), **options: Any
    ) -> ExampleSelector:
        """An example selector with ``select.*``'s options (``options`` override them)."""
        c = self.select
        settings: dict[str, Any] = {
            "strategy": c.strategy,
            "max_tokens": c.max_tokens,
            "max_examples": c.max_examples,
            "lexical_weight": c.lexical_weight,
            "model": self.tokens.default_model,
        }
        if c.compress_fields:
            settings["compress"] = ExampleCompression(
                c.compress_fields,
                self.compressor(),
                ratio=c.compress_ratio,
                min_tokens=c.compress_min_tokens,
            )
        return ExampleSelector(examples, **{**settings, **options})

    def router(self, models: ModelTable | None = None) -> Router:
        """A router over ``models`` (default table) with ``route.*``'s options."""
        c = self.route
        router = Router(
            models or ModelTable.default(prices=self.price_table()),
            quality_target=c.quality_target,
            tolerance=c.tolerance,
            expected_output_tokens=c.expected_output_tokens,
            model=self.tokens.default_model,
        )
        return router.load(c.fitted_path) if c.fitted_path is not None else router

    def alert_sinks(self) -> Alerts | None:
        """Where alerts go (``alerts.*``): logging and a webhook; None when disabled."""
        a = self.alerts
        if not a.enabled:
            return None
        sinks: list[AlertSink] = [LoggingSink()] if a.log else []
        if a.webhook_url:
            token = a.webhook_token.get_secret_value() if a.webhook_token else None
            headers = {"Authorization": f"Bearer {token}"} if token else None
            sinks.append(WebhookSink(a.webhook_url, headers=headers))
        return Alerts(sinks=sinks, thresholds=a.thresholds)

    def spend_budget(self, *, alerts: Alerts | None = None) -> Budget | None:
        """The limits ``budget.*`` describes, shared in Redis when ``budget.redis_url``
        is set; None when no limit is set. ``alerts`` default: :meth:`alert_sinks`."""
        b = self.budget
        limits = [x.limit() for x in b.limits]
        if b.total_usd is not None:
            total = Limit(
                usd=b.total_usd,
                window=b.window,
                name="total",
                low_share=b.low_share,
                fair_by=b.fair_by,
                weights=b.weights,
                guaranteed=b.guaranteed,
            )
            limits.insert(0, total)
        if not limits:
            return None
        alerts = alerts if alerts is not None else self.alert_sinks()
        if b.redis_url:
            return RedisBudget(
                b.redis_url,
                limits=limits,
                prefix=b.prefix,
                fallback_share=b.fallback_share,
                retry_s=b.retry_s,
                rejoin_s=b.rejoin_s,
                timeout_s=b.timeout_s,
                alerts=alerts,
            )
        return SpendBudget(limits=limits, alerts=alerts)

    def anomaly_detector(self, *, alerts: Alerts | None = None) -> SpendAnomalyDetector:
        """A spend-rate anomaly detector at ``alerts.anomaly_z``."""
        alerts = alerts if alerts is not None else self.alert_sinks()
        return SpendAnomalyDetector(threshold=self.alerts.anomaly_z, alerts=alerts)

    def output_control(self, planner: OutputPlanner | None = None) -> OutputControl:
        """Response length control with ``output.*``'s options; the planner (default:
        one at ``output.quantile``) learns from the ledger at ``monitor.ledger_path``."""
        c = self.output
        if planner is None:
            planner = OutputPlanner(quantile=c.quantile)
            if self.monitor.ledger_path is not None:
                planner.fit_records(self.ledger().records())
        return OutputControl(
            planner=planner,
            max_tokens=c.max_tokens,
            stop_on=c.stop_on,
            cut_at=c.cut_at,
            continue_max=c.continue_max,
        )

    def telemetry_exporter(self) -> Telemetry | None:
        """A :class:`~tokenomy.telemetry.Telemetry` on the global OpenTelemetry
        providers with ``telemetry.*``'s options; None when ``telemetry.enabled`` is off."""
        t = self.telemetry
        if not t.enabled:
            return None
        from tokenomy.telemetry import Telemetry

        return Telemetry(capture_content=t.capture_content, user_ids=t.user_ids)


def telemetry_from_env(telemetry: Telemetry | bool | None) -> Telemetry | bool | None:
    """A front door's ``telemetry`` argument, or when it is None what the environment
    says: ``TOKENOMY_TELEMETRY__ENABLED=true`` switches export on without a code change
    (``enable()`` in both frameworks and the gateway read it; options in
    :class:`TelemetrySettings`)."""
    if telemetry is not None:
        return telemetry
    return Settings.from_env().telemetry_exporter()
