"""The audit as plain-text tables, for the terminal."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tokenomy.monitor.records import UsageSummary

if TYPE_CHECKING:
    from tokenomy.audit.core import AuditReport

__all__ = [
    "COMBINED_TITLE",
    "SavingsRow",
    "combined_sentence",
    "cost_cell",
    "escape_terminal",
    "format_table",
    "human",
    "interval",
    "render_text",
    "savings_rows",
    "savings_table",
    "shorten",
    "usd",
]

_MAX_TAG_ROWS = 8
# C0 controls but newline, DEL, C1 controls, bidi overrides/isolates, lone surrogates
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_terminal(text: str) -> str:
    r"""``text`` with every character a terminal would act on shown as an escape.

    Escape sequences in a workload's model names, ids or prompts could otherwise
    retitle the terminal, move the cursor or hide text; lone surrogates could not
    be printed at all. Newlines are kept.

    Example:
        >>> escape_terminal("gpt-4o\x1b]0;pwned\x07")
        'gpt-4o\\x1b]0;pwned\\x07'
    """

    def esc(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(esc, text)


def human(n: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:,.0f}"


def usd(x: float | None) -> str:
    """Dollars with enough digits to see a tiny cost: $1,234.50, $0.0157, $0.000042."""
    if x is None:
        return "n/a"
    if abs(x) >= 1:
        return f"${x:,.2f}"
    if x == 0:
        return "$0.00"
    digits = max(4, 1 - math.floor(math.log10(abs(x))))
    return f"${x:.{digits}f}"


def day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def cost_cell(s: UsageSummary) -> str:
    """Cost of a group; 'n/a' when no call in it has a price, '+?' when some lack one."""
    if s.unpriced_calls and s.unpriced_calls == s.calls:
        return "n/a"
    return usd(s.cost_usd) + (" +?" if s.unpriced_calls else "")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to width; the first column left-aligned, the rest right-aligned."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def _summary_rows(rows: Sequence[UsageSummary], key: str, total_cost: float) -> list[list[str]]:
    out = []
    for s in rows:
        share = s.cost_usd / total_cost if total_cost else 0.0
        out.append(
            [
                s.group.get(key, ""),
                f"{s.calls:,}",
                human(s.input_tokens),
                human(s.output_tokens),
                cost_cell(s),
                f"{share:.0%}",
            ]
        )
    return out


def render_text(report: AuditReport, *, html_path: str | None = None) -> str:
    """The full terminal report."""
    t = report.totals
    parts = [f"tokenomy audit - {report.workload}"]
    period = report.period
    when = f", {day(period[0])} -> {day(period[1])} UTC" if period else ""
    skipped = f" ({len(report.errors)} broken lines skipped)" if report.errors else ""
    parts.append(
        f"{t.calls:,} calls{skipped}{when}; prices as of {report.prices_as_of or 'unknown'}"
    )
    est = f"{t.estimated_calls / t.calls:.0%}" if t.calls else "0%"
    parts.append(
        f"Spent: {human(t.input_tokens)} input + {human(t.output_tokens)} output tokens = "
        f"{usd(t.cost_usd)}  (token counts estimated for {est} of calls: no usage in the log)"
    )
    if report.unpriced_models:
        names = ", ".join(f"{m} ({n})" for m, n in sorted(report.unpriced_models.items()))
        parts.append(f"No price known for: {names}; their cost is left out (see `tokenomy price`).")
    headers = ["", "calls", "input", "output", "cost", "share"]
    parts.append(
        "\nBy model\n"
        + format_table(["model", *headers[1:]], _summary_rows(report.by_model, "model", t.cost_usd))
    )
    for key, summaries in report.by_tag.items():
        shown = summaries[:_MAX_TAG_ROWS]
        more = f"\n  … {len(summaries) - len(shown)} more" if len(summaries) > len(shown) else ""
        parts.append(
            f"\nBy {key}\n"
            + format_table([key, *headers[1:]], _summary_rows(shown, key, t.cost_usd))
            + more
        )
    rows: list[list[str]] = [
        [
            a.call.id,
            a.call.model,
            human(a.usage.input_tokens),
            human(a.usage.output_tokens),
            usd(a.cost_usd),
            a.call.tags.get("feature", ""),
            shorten(a.call.last_user_text, 48),
        ]
        for a in report.top_requests
    ]
    parts.append(
        "\nMost expensive requests\n"
        + format_table(["id", "model", "input", "output", "cost", "feature", "asked"], rows)
    )
    parts.append("\nWhat each technique would save on this workload\n" + savings_table(report))
    if report.combined is not None:
        parts.append(combined_sentence(report))
    if report.sampling is not None:
        parts.append(report.sampling.sentence())
    for s in report.savings:
        m = s.metrics
        if "predicted_quality_drop_share" in m:
            drop = m.get("measured_quality_drop_share", m["predicted_quality_drop_share"])
            how = "measured" if "measured_quality_drop_share" in m else "predicted"
            parts.append(
                f"{s.title} trades quality for its {usd(s.cost_saved_usd)}: {how} "
                f"{drop:.1%} of answers worse (interval {m['quality_drop_low']:.1%}-"
                f"{m['quality_drop_high']:.1%}), each scored on its own; the other rows keep "
                "answers as they are."
            )
    findings = [f"- [{s.title}] {f}" for s in report.savings for f in s.findings]
    if findings:
        parts.append("\nFindings\n" + "\n".join(findings))
    if report.truncated:
        parts.append(f"\nReading stopped early: {report.truncated}")
    parts.extend(f"\nNote: {note}" for note in report.notes)
    if report.errors:
        shown_errors = [f"- {e}" for e in report.errors[:20]]
        if len(report.errors) > 20:
            shown_errors.append(f"- … and {len(report.errors) - 20} more")
        parts.append("\nSkipped lines\n" + "\n".join(shown_errors))
    if html_path:
        parts.append(f"\nHTML report: {html_path}")
    parts.append(f"(audited in {report.seconds:.1f} s)")
    return escape_terminal("\n".join(parts))


def interval(bounds: tuple[float, float] | None) -> str:
    """'$0.91 to $1.20', or '' for an exact number."""
    return f"{usd(bounds[0])} to {usd(bounds[1])}" if bounds else ""


SavingsRow = tuple[str, int, int, int, float, tuple[float, float] | None]
"""(title, calls affected, input tokens, output tokens, dollars, interval) of one row."""

COMBINED_TITLE = "All together, answers unchanged"


def savings_rows(report: AuditReport) -> list[SavingsRow]:
    """The savings table's rows, text and HTML alike: each technique, then all of them
    together (when combined)."""
    rows: list[SavingsRow] = [
        (
            s.title,
            s.calls_affected,
            s.input_tokens_saved,
            s.output_tokens_saved,
            s.cost_saved_usd,
            s.interval_usd,
        )
        for s in report.savings
    ]
    c = report.combined
    if c is not None:
        rows.append(
            (
                COMBINED_TITLE,
                c.calls_affected,
                c.input_tokens_saved,
                c.output_tokens_saved,
                c.cost_saved_usd,
                c.interval_usd,
            )
        )
    return rows


def savings_table(report: AuditReport) -> str:
    """One row per technique, then all of them together; an interval column when a
    row was estimated on a sample."""
    spent = report.totals.cost_usd
    entries = savings_rows(report)
    sampled = any(e[5] for e in entries)
    conf = f"{report.sampling.confidence:.0%}" if report.sampling is not None else "95%"
    headers = ["technique", "calls", "input saved", "output saved", "$ saved", "of spend"]
    rows = []
    for title, calls, inp, out, cost, bounds in entries:
        row = [
            title,
            f"{calls:,}",
            human(inp),
            human(out),
            usd(cost),
            f"{cost / spent if spent else 0.0:.1%}",
        ]
        rows.append([*row, interval(bounds)] if sampled else row)
    return format_table([*headers, f"{conf} interval"] if sampled else headers, rows)


def combined_sentence(report: AuditReport) -> str:
    """What the 'all together' row is, and why the rows above it do not add up."""
    c = report.combined
    if c is None:
        return ""
    spent = report.totals.cost_usd
    share = f" ({c.cost_saved_usd / spent:.0%} of spend)" if spent else ""
    left = f" Left out (no per-call savings): {', '.join(c.left_out)}." if c.left_out else ""
    if c.changes_answers:
        left += (
            f" Not in it: {', '.join(c.changes_answers)}, which saves by having another "
            "model answer (its own line says how many answers it would change)."
        )
    return (
        f"The techniques that leave answers as they are would save {usd(c.cost_saved_usd)}"
        f"{share} together: each call replayed through the stages in pipeline order (a "
        "cache hit saves the whole call; context and output savings on the misses; "
        "cheaper prices on what remains). Each row above is measured alone and they "
        "overlap, so the rows do not add up." + left
    )


def shorten(text: str, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters with an ellipsis."""
    text = " ".join(escape_terminal(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
