"""The ``tokenomy`` command: ``audit``, ``count``, ``price`` and ``serve``."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokenomy.errors import TokenomyError
from tokenomy.tokens.prices import PriceTable, UnknownModelPriceWarning

__all__ = ["main"]


def _count(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum``, with a message saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder
    and a rename, so a reader never sees a half-written or empty report. Lone
    surrogates are written as U+FFFD."""
    target = Path(path)
    data = text.encode("utf-8", "replace")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual mode
        os.umask(umask)
        Path(tmp).chmod(0o666 & ~umask)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prices(path: str | None) -> PriceTable:
    from tokenomy.settings import Settings

    table = Settings.from_env().price_table()
    return table.with_file(path) if path else table


def _cmd_audit(args: argparse.Namespace) -> int:
    from tokenomy.audit import available_plugins, render_html, render_text, run_audit

    if not args.verbose:
        _quiet_model_loading()
    only = [p.strip() for p in args.only.split(",")] if args.only else None
    bar: Any = None
    progress = on_step = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        # one display for the whole audit: reading the file, then each plug-in a step
        steps = len(only) if only else len(available_plugins())
        source = Path(args.workload) if args.workload else None
        size = source.stat().st_size if source is not None and source.is_file() else 0
        bar = tqdm(total=size + steps, desc="reading", file=sys.stderr, leave=False)
        progress = bar.update

        def on_step(title: str) -> None:
            if bar.n < size:  # reading is done
                bar.update(size - bar.n)
            bar.set_description_str(title)
            bar.update(1)

    try:
        report = run_audit(
            args.workload,
            prices=_prices(args.prices),
            plugins=only,
            top=args.top,
            progress=progress,
            on_step=on_step,
            sampling=_sampling(args),
        )
    finally:
        if bar is not None:
            bar.close()
    html_path = None
    if not args.no_html:
        html_path = str(Path(args.html))
        write_atomic(html_path, render_html(report))
    if args.json:
        write_atomic(args.json, json.dumps(_report_json(report), indent=1))
    print(render_text(report, html_path=html_path))
    return 0


def _sampling(args: argparse.Namespace) -> Any:
    """The audit's sampling: the ``audit.*`` settings, overridden by the flags."""
    from tokenomy.settings import Settings

    sampling = Settings.from_env().audit.sampling()
    if args.exact:
        return type(sampling).exact()
    changes = {
        k: v
        for k, v in (("above", args.sample_above), ("calls", args.sample_calls))
        if v is not None
    }
    return replace(sampling, **changes) if changes else sampling


def _quiet_model_loading() -> None:
    """No third-party progress bars (transformers' "Loading weights") or hub chatter
    while the audit loads the embedding model; ``--verbose`` keeps them."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _summary(s: Any) -> dict[str, Any]:
    """One group of the report; ``cost_usd`` is null when no call in it has a price."""
    priced = s.unpriced_calls < s.calls
    return {
        **dict(s.group),
        "calls": s.calls,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "cost_usd": s.cost_usd if priced else None,
        "unpriced_calls": s.unpriced_calls,
        **({"bucket_start": s.bucket_start} if s.bucket_start is not None else {}),
    }


def _report_json(report: Any) -> dict[str, Any]:
    t = report.totals
    return {
        "workload": report.workload,
        "calls": t.calls,
        "skipped_lines": [{"line": e.line, "reason": e.reason} for e in report.errors],
        "truncated": report.truncated,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cost_usd": t.cost_usd if t.unpriced_calls < t.calls else None,
        "estimated_calls": t.estimated_calls,
        "by_model": {
            s.group["model"]: {k: v for k, v in _summary(s).items() if k != "model"}
            for s in report.by_model
        },
        "by_tag": {tag: [_summary(s) for s in rows] for tag, rows in report.by_tag.items()},
        "timeline": {"bucket": report.bucket, "rows": [_summary(s) for s in report.over_time]},
        "top_requests": [
            {
                "line": a.call.line,
                "id": a.call.id,
                "model": a.call.model,
                "timestamp": a.call.timestamp,
                "input_tokens": a.usage.input_tokens,
                "output_tokens": a.usage.output_tokens,
                "cost_usd": a.cost_usd,
                "exact": a.exact,
                "tags": dict(a.call.tags),
            }
            for a in report.top_requests
        ],
        "savings": [
            {
                "name": s.name,
                "title": s.title,
                "calls_affected": s.calls_affected,
                "input_tokens_saved": s.input_tokens_saved,
                "output_tokens_saved": s.output_tokens_saved,
                "cost_saved_usd": s.cost_saved_usd,
                "findings": list(s.findings),
                "metrics": dict(s.metrics),
                "interval_usd": list(s.interval_usd) if s.interval_usd else None,
                "sampled_calls": s.sampled_calls,
            }
            for s in report.savings
        ],
        "combined": _combined_json(report),
        "sampling": _sampling_json(report.sampling),
    }


def _combined_json(report: Any) -> dict[str, Any] | None:
    c = report.combined
    if c is None:
        return None
    from tokenomy.audit.text import combined_sentence

    return {
        "calls_affected": c.calls_affected,
        "input_tokens_saved": c.input_tokens_saved,
        "output_tokens_saved": c.output_tokens_saved,
        "cost_saved_usd": c.cost_saved_usd,
        "interval_usd": list(c.interval_usd) if c.interval_usd else None,
        "sampled_calls": c.sampled_calls,
        "included": list(c.included),
        "left_out": list(c.left_out),
        "changes_answers": list(c.changes_answers),
        "method": combined_sentence(report),
    }


def _sampling_json(s: Any) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "threshold_calls": s.above,
        "total_calls": s.total_calls,
        "sampled": s.sampled,
        "sampled_calls": s.sampled_calls,
        "units": s.units,
        "strata": s.strata,
        "confidence": s.confidence,
        "columns": list(s.columns),
        "statement": s.sentence(),
    }


def _cmd_count(args: argparse.Namespace) -> int:
    from tokenomy.tokens import count_tokens

    sources: list[tuple[str, str]] = []
    if args.text is not None:
        sources.append(("<text>", args.text))
    for name in args.files:
        if name == "-":
            sources.append(("<stdin>", sys.stdin.read()))
        else:
            sources.append((name, Path(name).read_text(encoding="utf-8", errors="replace")))
    if not sources:
        print("tokenomy count: give one or more files, '-' for stdin, or --text", file=sys.stderr)
        return 2
    total = 0
    for name, text in sources:
        payload: Any = text
        if name.endswith(".json"):
            try:
                data = json.loads(text)
                messages = data.get("messages") if isinstance(data, dict) else data
                if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
                    payload = messages
            except json.JSONDecodeError:
                pass
        result = count_tokens(payload, model=args.model)
        total += result.tokens
        kind = "chat" if isinstance(payload, list) else "text"
        flag = "exact" if result.exact else "estimate"
        print(f"{result.tokens:>10,}  {name}  ({kind}, {result.tokenizer}, {flag})")
    if len(sources) > 1:
        print(f"{total:>10,}  total ({args.model})")
    return 0


def _cmd_price(args: argparse.Namespace) -> int:
    from tokenomy.audit.text import format_table
    from tokenomy.tokens import TokenUsage

    if args.update:
        return _update_prices(args.update, args.out)

    table = _prices(args.prices)
    usage = TokenUsage(args.input_tokens, args.output_tokens, args.cached_tokens)
    models = args.models or ([p.model for p in table] if args.list or not args.models else [])
    rows = []
    missing = []
    for name in models:
        price = table.get(name)
        if price is None:
            missing.append(name)
            continue
        cached = "-" if price.cached_input is None else f"{price.cached_input:g}"
        row = [
            price.model,
            price.provider or "",
            f"{price.input:g}",
            cached,
            f"{price.output:g}",
            f"{price.context_window:,}" if price.context_window else "?",
        ]
        if usage.total_tokens:
            row.append(f"${price.cost(usage).total_usd:.6f}")
        rows.append(row)
    headers = ["model", "provider", "input $/1M", "cached $/1M", "output $/1M", "context"]
    if usage.total_tokens:
        headers.append(f"cost of {usage.input_tokens:,} in + {usage.output_tokens:,} out")
    if rows:
        print(format_table(headers, rows))
    print(f"prices as of {table.as_of or 'unknown'}; source: {table.source or 'user'}")
    for name in missing:
        print(
            f"no price for {name!r}: add it with a JSON file passed as --prices FILE or set in "
            'TOKENOMY_TOKENS__PRICES_FILE, e.g. {"' + name + '": {"input": 1.0, "output": 2.0}}',
            file=sys.stderr,
        )
    return 1 if missing else 0


def _update_prices(source: str, out: str) -> int:
    """Convert a LiteLLM/tokencost price file into a tokenomy price file."""
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"tokenomy price: cannot read {source!r}: {exc}", file=sys.stderr)
        return 1
    table = PriceTable.from_litellm(data)
    write_atomic(out, json.dumps(table.to_dict(), indent=1) + "\n")
    print(
        f"wrote {len(table.prices)} models to {out}; use it with --prices {out} or "
        f"TOKENOMY_TOKENS__PRICES_FILE={out} (it overrides the bundled prices)"
    )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from tokenomy.settings import Settings

    if args.hash_key:  # the key comes on stdin: never in argv, shell history or ps
        from tokenomy.serve.config import hash_key

        key = sys.stdin.readline().strip()
        if not key:
            print("tokenomy serve --hash-key: pipe the key on stdin", file=sys.stderr)
            return 1
        print(hash_key(key))
        return 0
    from tokenomy.serve import serve

    settings = Settings.from_env().serve
    config = args.config or settings.config_file
    if config is None:
        print(
            "tokenomy serve: pass --config gateway.yaml (or set TOKENOMY_SERVE__CONFIG_FILE); "
            "see docs/gateway.md for the format",
            file=sys.stderr,
        )
        return 1
    serve(
        config,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        workers=args.workers or settings.workers,
        environ=os.environ,
        access_log=args.access_log,
        ready=lambda url: print(
            f"tokenomy serve: listening on {url} (config {config})", file=sys.stderr, flush=True
        ),
    )
    return 0


def _cmd_experiments(args: argparse.Namespace) -> int:
    """``tokenomy experiments report LOG``: each experiment's numbers and verdict."""
    from tokenomy.budget import ExperimentLog, experiment_report

    log = ExperimentLog.load(args.log)
    names = (
        [args.experiment]
        if args.experiment
        else list(dict.fromkeys(r["experiment"] for r in log.rows() if r.get("kind") == "call"))
    )
    reports = [
        experiment_report(log, name, control=args.control, alpha=args.alpha) for name in names
    ]
    print("\n\n".join(str(r) for r in reports) or f"no experiment recorded in {args.log}")
    if args.json:
        from dataclasses import asdict

        write_atomic(args.json, json.dumps([asdict(r) for r in reports], indent=2, default=str))
    return 0


def _cmd_forecast(args: argparse.Namespace) -> int:
    """``tokenomy forecast WORKLOAD``: the spend forecast, the monthly limit's date,
    and the anomalous hours of a ledger or a workload."""
    import datetime as dt

    from tokenomy.audit import run_audit
    from tokenomy.audit.ledger_source import is_sqlite
    from tokenomy.budget import SpendAnomalyDetector, forecast_alert, forecast_spend

    spend: list[tuple[float, float]]
    if is_sqlite(Path(args.workload)):  # a ledger: the costs it recorded
        from tokenomy.budget.series import points
        from tokenomy.monitor.sqlite import SQLiteLedger

        ledger = SQLiteLedger(args.workload)
        spend = points(ledger.records())
        ledger.close()
    else:  # a workload: priced as the audit prices it
        report = run_audit(args.workload, prices=_prices(args.prices), plugins=[], top=0)
        spend = [
            (c.call.timestamp, c.cost_usd)
            for c in report.calls
            if c.call.timestamp is not None and c.cost_usd is not None
        ]
    if not spend:
        print(f"tokenomy forecast: no timed, priced call in {args.workload}", file=sys.stderr)
        return 1
    last = max(t for t, _ in spend)
    now = (math.floor(last / 86400) + 1) * 86400.0  # the day after the last call
    forecast = forecast_spend(spend, now=now, horizon_days=args.days)
    print(f"{len(spend):,} calls, ${sum(u for _, u in spend):,.2f}; {forecast}")
    if args.monthly_limit is not None:
        month = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(day=1, hour=0)
        spent = sum(u for t, u in spend if t >= month.timestamp())
        alert = forecast_alert(forecast, limit_usd=args.monthly_limit, spent_usd=spent, now=now)
        print(alert or f"the ${args.monthly_limit:,.2f} monthly limit lasts the month")
    detector = SpendAnomalyDetector(threshold=args.anomaly_z)
    detector.add(spend)
    found = detector.scan()
    print(f"{len(found)} anomalous hour(s) (robust z >= {args.anomaly_z:g})")
    for anomaly in found:
        print(f"- {anomaly}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenomy", description="Where your LLM tokens and dollars go, and how to spend fewer."
    )
    parser.add_argument("--version", action="version", version=f"tokenomy {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    audit = sub.add_parser(
        "audit",
        help="audit a workload (JSON Lines of LLM calls); default: the bundled sample",
        description="Audit a workload: JSON Lines of LLM calls in OpenAI chat format (model, "
        "messages, response, usage, timestamp, tags). Prints per-model and per-tag tables, the "
        "most expensive requests, waste, and what each technique would save; writes an HTML "
        "report. With no argument, audits the bundled sample workload.",
    )
    audit.add_argument("workload", nargs="?", help="workload .jsonl or .jsonl.gz")
    audit.add_argument("--html", default="tokenomy-report.html", help="HTML report path")
    audit.add_argument("--no-html", action="store_true", help="do not write the HTML report")
    audit.add_argument("--json", help="also write a JSON summary here")
    audit.add_argument(
        "--top", type=_count(0), default=10, help="most expensive requests to list (>= 0)"
    )
    audit.add_argument("--prices", help="JSON price file overriding the bundled prices")
    audit.add_argument("--only", help="comma-separated savings plug-ins to run")
    audit.add_argument(
        "--exact",
        action="store_true",
        help="measure the model-heavy columns on every call, however large the workload",
    )
    audit.add_argument(
        "--sample-above",
        type=_count(0),
        help="sample the model-heavy columns beyond this many calls (audit.sample_above)",
    )
    audit.add_argument(
        "--sample-calls",
        type=_count(1),
        help="about how many calls the sample holds (audit.sample_calls)",
    )
    audit.add_argument("--no-progress", action="store_true", help="no progress bar")
    audit.add_argument(
        "--debug", action="store_true", help="log details, with a failing plug-in's traceback"
    )
    audit.add_argument(
        "--verbose", action="store_true", help="keep the model libraries' own progress output"
    )
    audit.set_defaults(func=_cmd_audit)

    count = sub.add_parser("count", help="count tokens of files, stdin ('-') or --text")
    count.add_argument(
        "files", nargs="*", help="text files; .json with chat messages counts as chat"
    )
    count.add_argument("--model", default="gpt-4o", help="model whose tokenizer to use")
    count.add_argument("--text", help="count this text")
    count.set_defaults(func=_cmd_count)

    price = sub.add_parser("price", help="show model prices, or what a call would cost")
    price.add_argument("models", nargs="*", help="model names (default: all)")
    price.add_argument("--list", action="store_true", help="list every model in the table")
    price.add_argument("--input-tokens", type=_count(0), default=0)
    price.add_argument("--output-tokens", type=_count(0), default=0)
    price.add_argument("--cached-tokens", type=_count(0), default=0)
    price.add_argument("--prices", help="JSON price file overriding the bundled prices")
    price.add_argument(
        "--update",
        metavar="FILE",
        help="convert a newer LiteLLM / tokencost model_prices JSON into a tokenomy price file",
    )
    price.add_argument(
        "--out", default="tokenomy-prices.json", help="where --update writes (default: %(default)s)"
    )
    price.set_defaults(func=_cmd_price)

    forecast = sub.add_parser(
        "forecast",
        help="30-day spend forecast, monthly-limit date and spend anomalies of a ledger or log",
    )
    forecast.add_argument("workload", help="a SQLite usage ledger or a workload .jsonl(.gz)")
    forecast.add_argument("--days", type=_count(1), default=30, help="days to forecast")
    forecast.add_argument("--monthly-limit", type=float, help="USD: when would it run out?")
    forecast.add_argument("--anomaly-z", type=float, default=6.0, help="robust z of an anomaly")
    forecast.add_argument("--prices", help="JSON price file overriding the bundled prices")
    forecast.set_defaults(func=_cmd_forecast)

    experiments = sub.add_parser("experiments", help="report experiments recorded in a log")
    what = experiments.add_subparsers(dest="action", required=True)
    report = what.add_parser(
        "report",
        help="each variant against the control: cost, tokens, latency, quality, verdict",
    )
    report.add_argument("log", help="the .jsonl an ExperimentLog(path) wrote")
    report.add_argument("--experiment", help="only this experiment (default: all)")
    report.add_argument("--control", help="the control variant (default: the one the log names)")
    report.add_argument("--alpha", type=float, default=0.05, help="significance level")
    report.add_argument("--json", help="also write the reports as JSON here")
    report.set_defaults(func=_cmd_experiments)

    serve = sub.add_parser(
        "serve",
        help="run the OpenAI-compatible gateway (extra tokenomy[server])",
        description="Serve an OpenAI-compatible API (/v1/chat/completions, /v1/completions, "
        "/v1/embeddings, /v1/models) that runs every request through tokenomy's pipeline "
        "(cache, context, routing, budgets) and de-duplicates identical upstream calls across "
        "replicas. The configuration file is described in docs/gateway.md.",
    )
    serve.add_argument("--config", help="the gateway's YAML configuration file")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_count(0), help="TCP port (default 8000; 0: any free)")
    serve.add_argument("--workers", type=_count(1), help="processes sharing the port (default 1)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--hash-key",
        action="store_true",
        help="print the SHA-256 of the API key read from stdin (for key_sha256) and exit",
    )
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tokenomy`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    warnings.simplefilter("ignore", UnknownModelPriceWarning)  # reported in the output instead
    if getattr(args, "debug", False):
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    else:  # one line per problem on stderr; tracebacks only with --debug
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `tokenomy price --list | head`: the reader left, not an error
        _quiet_stdout()
        return 0
    except TokenomyError as exc:
        print(f"tokenomy {args.command}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tokenomy {args.command}: {exc}", file=sys.stderr)
        return 1


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of a closed pipe
    prints nothing (the Python docs' recipe for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokenomy")
    except PackageNotFoundError:
        from tokenomy import __version__

        return __version__


if __name__ == "__main__":
    sys.exit(main())
