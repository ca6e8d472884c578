"""The audit as one self-contained HTML file: inline SVG charts that scale to the window,
tables that sort on a click and filter as you type (a few lines of inline script), no
external assets, so it opens offline and can be attached to a ticket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from tokenomy.audit.core import AuditReport
from tokenomy.audit.text import (
    COMBINED_TITLE,
    combined_sentence,
    cost_cell,
    human,
    interval,
    savings_rows,
    usd,
)
from tokenomy.monitor.records import UsageSummary

__all__ = ["render_html"]

_PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f")
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1a202c;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #e2e8f0;padding-bottom:.3rem}
.muted{color:#718096}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#f7fafc;border:1px solid #e2e8f0;border-radius:8px;padding:.7rem 1rem;
min-width:150px}.card b{display:block;font-size:1.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{padding:.3rem .5rem;
border-bottom:1px solid #edf2f7;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f7fafc;font-weight:600}td.text{text-align:left;max-width:380px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}ul{padding-left:1.2rem}.warn{color:#c53030}
svg text{font:11px system-ui,sans-serif;fill:#4a5568}
svg.chart{width:100%;height:auto;max-width:100%}.scroll{overflow-x:auto}
th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";color:#a0aec0}
input.filter{margin:.4rem 0;padding:.3rem .5rem;border:1px solid #cbd5e0;border-radius:6px;
width:min(320px,100%)}
@media (max-width:640px){body{margin:1rem auto;font-size:13px}.card{min-width:120px}}
"""

# Sorting and filtering, inline so the file stays self-contained and works offline.
_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.classList.add('sort');
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.getAttribute('data-dir') !== 'up';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', up ? 'up' : 'down');
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var c = (x !== null && y !== null) ? (parseFloat(x) - parseFloat(y))
          : a.cells[col].textContent.localeCompare(b.cells[col].textContent);
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('input.filter').forEach(function (input) {
  var table = document.getElementById(input.getAttribute('data-table'));
  input.addEventListener('input', function () {
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
"""

_BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def _bars(labels: Sequence[str], values: Sequence[float], *, width: int = 640) -> str:
    """Horizontal bar chart (one bar per label)."""
    if not values:
        return "<p class='muted'>No data.</p>"
    row, label_w = 22, 190
    top = max(values) or 1.0
    height = row * len(values) + 8
    parts = [
        f"<svg class='chart' viewBox='0 0 {width} {height}' style='max-width:{width}px' role='img'>"
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * row
        w = max(1.0, (width - label_w - 90) * v / top)
        color = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{escape(label[:28])}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row - 7}' fill='{color}'>"
            f"<title>{escape(label)}: {usd(v)}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 14}'>{usd(v)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _time_chart(
    rows: Sequence[UsageSummary], bucket: str, *, width: int = 1000, height: int = 220
) -> str:
    """Vertical bars of cost per time bucket."""
    points = _continuous(rows, bucket)
    if not points:
        return "<p class='muted'>No timestamps in the workload.</p>"
    left, bottom = 60, 30
    plot_w, plot_h = width - left - 10, height - bottom - 10
    top = max(v for _, v in points) or 1.0
    bar_w = max(1.0, plot_w / len(points) - 1)
    parts = [
        f"<svg class='chart' viewBox='0 0 {width} {height}' role='img'>",
        f"<line x1='{left}' y1='{10 + plot_h}' x2='{width - 10}' y2='{10 + plot_h}' "
        "stroke='#a0aec0'/>",
        f"<text x='{left - 6}' y='16' text-anchor='end'>{usd(top)}</text>",
        f"<text x='{left - 6}' y='{10 + plot_h}' text-anchor='end'>$0</text>",
    ]
    fmt = "%m-%d %H:00" if bucket in ("hour", "minute") else "%Y-%m-%d"
    step = max(1, len(points) // 8)
    for i, (t, v) in enumerate(points):
        x = left + i * (plot_w / len(points))
        h = plot_h * v / top
        label = dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime(fmt)
        parts.append(
            f"<rect x='{x:.1f}' y='{10 + plot_h - h:.1f}' width='{bar_w:.1f}' height='{h:.1f}' "
            f"fill='{_PALETTE[0]}'><title>{label}: {usd(v)}</title></rect>"
        )
        if i % step == 0:
            parts.append(f"<text x='{x:.1f}' y='{height - 8}'>{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _continuous(rows: Sequence[UsageSummary], bucket: str) -> list[tuple[float, float]]:
    """Cost per bucket from the first to the last, empty buckets included as $0, so
    the axis is time (11-02 14:00 is not drawn next to 11-03 00:00)."""
    known = {r.bucket_start: r.cost_usd for r in rows if r.bucket_start is not None}
    if not known:
        return []
    step = _BUCKET_SECONDS.get(bucket)
    first, last = min(known), max(known)
    if step is None or (last - first) / step > 5000:  # months, or a runaway span: as is
        return sorted(known.items())
    out, t = [], first
    while t <= last:
        out.append((t, known.get(t, 0.0)))
        t += step
    return out


_table_ids = iter(range(1, 1 << 30))


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | tuple[str, float | None]]],
    text_cols: Sequence[int] = (),
    *,
    filter_label: str | None = None,
) -> str:
    """A sortable table; a cell given as ``(text, number)`` sorts by the number. With
    ``filter_label``, a search box above it hides the rows that do not match."""
    table_id = f"t{next(_table_ids)}"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = []
        for i, cell in enumerate(r):
            text, value = cell if isinstance(cell, tuple) else (cell, None)
            sort = f" data-v='{value:.10g}'" if value is not None else ""
            if i in text_cols:
                cells.append(f"<td class='text' title='{escape(text)}'{sort}>{escape(text)}</td>")
            else:
                cells.append(f"<td{sort}>{escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    search = (
        f"<input class='filter' type='search' data-table='{table_id}' "
        f"placeholder='{escape(filter_label)}' aria-label='{escape(filter_label)}'>"
        if filter_label
        else ""
    )
    return (
        f"{search}<div class='scroll'><table class='sortable' id='{table_id}'><thead><tr>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _summary_table(rows: Sequence[UsageSummary], key: str, total: float) -> str:
    return _table(
        [key, "calls", "input tokens", "output tokens", "cost", "share"],
        [
            [
                s.group.get(key, ""),
                (f"{s.calls:,}", s.calls),
                (f"{s.input_tokens:,}", s.input_tokens),
                (f"{s.output_tokens:,}", s.output_tokens),
                (cost_cell(s), s.cost_usd),
                (f"{(s.cost_usd / total if total else 0):.1%}", s.cost_usd),
            ]
            for s in rows
        ],
        filter_label=f"filter by {key}" if len(rows) > 8 else None,
    )


def _savings(report: AuditReport) -> list[str]:
    """The savings chart and table: each technique, then all of them together."""
    spent = report.totals.cost_usd
    entries = savings_rows(report)
    sampled = any(e[5] for e in entries)
    conf = f"{report.sampling.confidence:.0%}" if report.sampling is not None else "95%"
    headers = [
        "technique",
        "calls affected",
        "input tokens saved",
        "output tokens saved",
        "$ saved",
        "of spend",
    ]
    rows: list[list[str | tuple[str, float | None]]] = []
    for title, calls, inp, out, cost, bounds in entries:
        row: list[str | tuple[str, float | None]] = [
            title,
            (f"{calls:,}", calls),
            (f"{inp:,}", inp),
            (f"{out:,}", out),
            (usd(cost), cost),
            (f"{(cost / spent if spent else 0):.1%}", cost),
        ]
        if sampled:
            row.append((interval(bounds), bounds[0] if bounds else None))
        rows.append(row)
    return [
        _bars([e[0] for e in entries], [e[4] for e in entries]),
        _table([*headers, f"{conf} interval"] if sampled else headers, rows),
    ]


def render_html(report: AuditReport) -> str:
    """The report as a standalone HTML document."""
    t = report.totals
    period = report.period
    when = ""
    if period:
        a, b = (
            dt.datetime.fromtimestamp(x, tz=dt.timezone.utc).strftime("%Y-%m-%d") for x in period
        )
        when = f"{a} to {b}"
    # the headline is the largest saving that keeps answers as they are; one that trades
    # quality (routing: "predicted_quality_drop_share") is shown with its drop instead
    best = max(
        (s for s in report.savings if "predicted_quality_drop_share" not in s.metrics),
        key=lambda s: s.cost_saved_usd,
        default=None,
    )
    cards = [
        ("Calls", f"{t.calls:,}"),
        ("Input tokens", human(t.input_tokens)),
        ("Output tokens", human(t.output_tokens)),
        ("Cost", usd(t.cost_usd)),
        ("Estimated counts", f"{(t.estimated_calls / t.calls if t.calls else 0):.0%} of calls"),
    ]
    if report.combined is not None:
        cards.append((COMBINED_TITLE, usd(report.combined.cost_saved_usd)))
    html = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>tokenomy audit - {escape(report.workload)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Where the tokens and dollars go</h1>",
        f"<p class='muted'>{escape(report.workload)} · {escape(when)} · prices as of "
        f"{escape(report.prices_as_of or 'unknown')} · generated by tokenomy audit</p>",
        "<div class='cards'>"
        + "".join(
            f"<div class='card'><span class='muted'>{k}</span><b>{escape(v)}</b></div>"
            for k, v in cards
        )
        + "</div>",
    ]
    if report.unpriced_models:
        names = ", ".join(f"{m} ({n} calls)" for m, n in sorted(report.unpriced_models.items()))
        html.append(f"<p class='warn'>No price known for {escape(names)}: left out of costs.</p>")
    html.append(f"<h2>Cost over time (per {report.bucket}, UTC)</h2>")
    html.append(_time_chart(report.over_time, report.bucket))
    html.append("<h2>Cost by model</h2>")
    html.append(
        _bars([s.group["model"] for s in report.by_model], [s.cost_usd for s in report.by_model])
    )
    html.append(_summary_table(report.by_model, "model", t.cost_usd))
    for key, rows in report.by_tag.items():
        html.append(f"<h2>Cost by {escape(key)}</h2>")
        top = rows[:12]
        html.append(_bars([s.group[key] for s in top], [s.cost_usd for s in top]))
        html.append(_summary_table(top, key, t.cost_usd))
    html.append("<h2>What each technique would save</h2>")
    html.append(
        "<p class='muted'>Each technique measured alone on the whole workload. They overlap "
        "(a call served from the cache is not also compressed), so the rows do not add up"
        + (
            f"; the largest alone that keeps answers as they are is {escape(best.title)}, "
            f"{usd(best.cost_saved_usd)}."
            if best
            else "."
        )
        + "".join(
            f" {escape(s.title)} would save {usd(s.cost_saved_usd)} with a predicted "
            f"{s.metrics['predicted_quality_drop_share']:.1%} of answers getting worse "
            f"(interval {s.metrics['quality_drop_low']:.1%}-{s.metrics['quality_drop_high']:.1%}"
            "), each scored on its own (side by side, a judge may prefer the stronger model's "
            "answer far more often)."
            for s in report.savings
            if "predicted_quality_drop_share" in s.metrics
        )
        + "</p>"
    )
    if report.combined is not None:
        html.append(f"<p><b>{escape(combined_sentence(report))}</b></p>")
    if report.sampling is not None:
        html.append(f"<p class='muted'>{escape(report.sampling.sentence())}</p>")
    html.extend(_savings(report))
    findings = [
        f"<li><b>{escape(s.title)}:</b> {escape(f)}</li>"
        for s in report.savings
        for f in s.findings
    ]
    if findings:
        html.append("<h2>Findings</h2><ul>" + "".join(findings) + "</ul>")
    html.append("<h2>Most expensive requests</h2>")
    html.append(
        _table(
            ["id", "model", "input", "output", "cost", "tags", "asked"],
            [
                [
                    a.call.id,
                    a.call.model,
                    (f"{a.usage.input_tokens:,}", a.usage.input_tokens),
                    (f"{a.usage.output_tokens:,}", a.usage.output_tokens),
                    (usd(a.cost_usd), a.cost_usd or 0.0),
                    ", ".join(f"{k}={v}" for k, v in a.call.tags.items()),
                    a.call.last_user_text[:300],
                ]
                for a in report.top_requests
            ],
            text_cols=(5, 6),
            filter_label="filter requests (model, tag, text)",
        )
    )
    if report.truncated:
        html.append(f"<p class='warn'>Reading stopped early: {escape(report.truncated)}</p>")
    html.extend(f"<p class='warn'>{escape(note)}</p>" for note in report.notes)
    if report.errors:
        html.append(f"<h2 class='warn'>Skipped lines ({len(report.errors)})</h2><ul>")
        html.extend(f"<li>{escape(str(e))}</li>" for e in report.errors[:200])
        html.append("</ul>")
    html.append(f"<script>{_SCRIPT}</script></body></html>")
    # lone surrogates (from a workload's text) cannot be written as UTF-8
    return "\n".join(html).encode("utf-8", "replace").decode("utf-8")
