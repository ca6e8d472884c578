import subprocess
import sys

import tokenomy
import tokenomy.audit
import tokenomy.budget
import tokenomy.context
import tokenomy.monitor
import tokenomy.output
import tokenomy.pipeline
import tokenomy.route
import tokenomy.select
import tokenomy.tokens

HEAVY = (
    "tiktoken",
    "torch",
    "sentence_transformers",
    "transformers",
    "langchain_core",
    "llama_index",
    "redis",
    "numpy",
    "opentelemetry",
    "prometheus_client",
)


def test_importing_the_core_loads_no_framework_and_no_model():
    code = (
        "import sys, tokenomy, tokenomy.tokens, tokenomy.monitor, tokenomy.audit, tokenomy.cli\n"
        "import tokenomy.cache, tokenomy.embed, tokenomy.cache.guards, tokenomy.cache.verifier\n"
        "import tokenomy.compress, tokenomy.text, tokenomy.context, tokenomy.select, tokenomy.route\n"
        "import tokenomy.budget, tokenomy.pipeline, tokenomy.telemetry, tokenomy.output\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_are_pinned():
    assert tokenomy.__all__ == [
        "InMemoryLedger",
        "PriceTable",
        "SQLiteLedger",
        "Settings",
        "TokenCounter",
        "TokenUsage",
        "TokenomyError",
        "UsageRecord",
        "__version__",
        "count_tokens",
        "estimate_cost",
        "register_tokenizer",
    ]
    assert tokenomy.tokens.__all__ == [
        "DEFAULT_MODEL",
        "UNATTRIBUTED",
        "ApproximateTokenizer",
        "CallableTokenizer",
        "ChatFormat",
        "Cost",
        "HuggingFaceTokenizer",
        "ModelPrice",
        "PriceTable",
        "TiktokenTokenizer",
        "TokenCount",
        "TokenCounter",
        "TokenUsage",
        "Tokenizer",
        "TokenizerRegistry",
        "UnknownModelPriceWarning",
        "count_tokens",
        "estimate_cost",
        "get_encoding",
        "parse_usage",
        "register_tokenizer",
    ]
    assert tokenomy.monitor.__all__ == [
        "BaseLedger",
        "Bucket",
        "CallDetails",
        "CallLog",
        "InMemoryLedger",
        "RecordObserver",
        "SQLiteLedger",
        "UsageRecord",
        "UsageRecorder",
        "UsageSummary",
        "aggregate",
        "bucket_start",
    ]
    assert tokenomy.audit.__all__ == [
        "AuditContext",
        "AuditPlugin",
        "AuditReport",
        "AuditedCall",
        "LineError",
        "SavingsEstimate",
        "Workload",
        "WorkloadCall",
        "audit_calls",
        "available_plugins",
        "load_workload",
        "register_audit_plugin",
        "render_html",
        "render_text",
        "run_audit",
        "sample_workload_path",
    ]
    assert tokenomy.route.__all__ == [
        "FEATURE_NAMES",
        "Attempt",
        "BudgetView",
        "Cascade",
        "CascadeResult",
        "FallbackChain",
        "ModelSpec",
        "ModelTable",
        "RouteDecision",
        "Router",
        "complexity_features",
        "is_context_overflow",
    ]
    assert tokenomy.budget.__all__ == [
        "DEFAULT_THRESHOLDS",
        "Alert",
        "AlertSink",
        "Alerts",
        "Budget",
        "BudgetStatus",
        "CallbackSink",
        "Experiment",
        "ExperimentLog",
        "ExperimentReport",
        "Limit",
        "LoggingSink",
        "RedisBudget",
        "Reservation",
        "SpendAnomaly",
        "SpendAnomalyDetector",
        "SpendBudget",
        "SpendForecast",
        "WebhookSink",
        "experiment_report",
        "forecast_alert",
        "forecast_spend",
    ]
    assert tokenomy.output.__all__ == [
        "CONTINUE_PROMPT",
        "CRITERIA",
        "CUT_AT",
        "BaseCriterion",
        "BoundaryKind",
        "Completeness",
        "Cut",
        "CutAt",
        "JsonComplete",
        "LengthBudget",
        "LengthSample",
        "MonitorResult",
        "OutputControl",
        "OutputPlanner",
        "RepetitionLoop",
        "Stop",
        "StopPatterns",
        "StreamMonitor",
        "Validator",
        "boundaries",
        "check_complete",
        "continuation_messages",
        "cut_at_boundary",
        "join_parts",
        "resume_point",
        "template_key",
    ]
    assert tokenomy.pipeline.__all__ == [
        "ROUTE_KEY",
        "TRACE_KEY",
        "Codec",
        "ContextStage",
        "Finished",
        "FrontDoor",
        "Methods",
        "Outbound",
        "OutputPlanner",
        "Pipeline",
        "Prepared",
        "Recorder",
        "Request",
        "Sent",
        "StageRecord",
        "TextCodec",
        "Trace",
        "answer_cap",
        "jsonable",
        "own_messages",
        "replay_pieces",
    ]
    assert tokenomy.select.__all__ == [
        "STRATEGIES",
        "Candidates",
        "ExampleCompression",
        "ExampleSelector",
        "Selection",
        "format_example",
        "register_strategy",
    ]
    assert tokenomy.context.__all__ == [
        "ConversationWindow",
        "ExtractiveSummarizer",
        "PromptSummarizer",
        "Summarizer",
        "WindowResult",
    ]
    for module in (
        tokenomy,
        tokenomy.tokens,
        tokenomy.monitor,
        tokenomy.audit,
        tokenomy.context,
        tokenomy.output,
    ):
        for name in module.__all__:
            assert hasattr(module, name), name


def test_adapter_public_names_are_pinned():
    import langchain_tokenomy
    import llama_index_tokenomy

    assert langchain_tokenomy.__all__ == [
        "OptimizedChatModel",
        "RoutingChatModel",
        "TokenBudgetExampleSelector",
        "TokenomyCache",
        "TokenomyCallbackHandler",
        "TokenomyCompressor",
        "TokenomyMiddleware",
        "TokenomyRoutingMiddleware",
        "cache_scope",
        "disable",
        "enable",
        "to_openai_messages",
        "track_usage",
        "window_messages",
    ]
    assert llama_index_tokenomy.__all__ == [
        "FewShotExamples",
        "OptimizedLLM",
        "RoutingLLM",
        "SemanticCacheLLM",
        "TokenomyChatMemory",
        "TokenomyEventHandler",
        "TokenomyNodePostprocessor",
        "disable",
        "enable",
    ]


def test_the_core_never_imports_a_framework():
    from pathlib import Path

    core = Path(tokenomy.__file__).parent
    for path in core.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(
                ("import langchain", "from langchain", "import llama_index", "from llama_index")
            ), path
