"""Forecast backtest and anomaly-detector sensitivity on the bundled sample week.

    python benchmarks/budget_forecast.py

Writes benchmarks/results/budget_forecast.json. Each call of the sample workload
(1,119 calls, Mon 2026-11-02 to Sun 2026-11-08) is priced from counted tokens at the
bundled prices ($4.32 in all).

1. Forecast: fit on days 1-5, forecast days 6-7 (the issue's backtest); and one day
   ahead, fitting on days 1..k and forecasting day k+1, for k = 2..6.
2. Anomalies: a runaway loop spending $X over 20 minutes is injected at one hour of
   days 5-7 at a time (72 hours; the score's floors and threshold were chosen
   looking at days 1-4 only); reported: the share of those hours where the loop's
   hour is flagged, and any other hour flagged (false alarms).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from tokenomy.audit import load_workload, sample_workload_path
from tokenomy.budget import SpendAnomalyDetector, forecast_spend
from tokenomy.tokens import PriceTable, TokenCounter, TokenUsage

OUT = ROOT / "benchmarks" / "results" / "budget_forecast.json"
DAY, HOUR = 86400.0, 3600.0


def sample_spend() -> list[tuple[float, float]]:
    prices, counters, out = PriceTable.default(), {}, []
    for call in load_workload(sample_workload_path()).calls:
        counter = counters.setdefault(call.model, TokenCounter(call.model))
        usage = TokenUsage(
            counter.count_messages(list(call.messages or ())), counter.count(call.response or "")
        )
        out.append((call.timestamp, prices.cost(call.model, usage).total_usd))
    return out


def day_total(spend, first, day):
    return sum(u for t, u in spend if (first + day) * DAY <= t < (first + day + 1) * DAY)


def backtest(spend, first):
    rows = []
    f = forecast_spend(spend, now=(first + 5) * DAY, horizon_days=2)
    actual = day_total(spend, first, 5) + day_total(spend, first, 6)
    rows.append(("days 1-5 -> 6-7", f, actual))
    for k in range(2, 7):
        f = forecast_spend(spend, now=(first + k) * DAY, horizon_days=1)
        rows.append((f"days 1-{k} -> {k + 1}", f, day_total(spend, first, k)))
    return [
        {
            "backtest": name,
            "forecast_usd": f.total_usd,
            "low_usd": f.low_usd,
            "high_usd": f.high_usd,
            "actual_usd": actual,
            "error": (f.total_usd - actual) / actual,
            "inside": f.low_usd <= actual <= f.high_usd,
        }
        for name, f, actual in rows
    ]


def sensitivity(spend, first):
    detector = SpendAnomalyDetector()
    detector.add(spend)
    natural = detector.scan()
    rows = []
    for usd in (0.05, 0.1, 0.2, 0.4, 0.8):
        caught = false = 0
        hours = range((first + 4) * 24, (first + 7) * 24)
        for hour in hours:
            loop = [(hour * HOUR + 8 * i, usd / 150) for i in range(150)]
            d = SpendAnomalyDetector()
            d.add(spend + loop)
            found = {a.start for a in d.scan()}
            caught += hour * HOUR in found
            false += len(found - {hour * HOUR})
        rows.append(
            {
                "loop_usd": usd,
                "hours": len(hours),
                "detected": caught / len(hours),
                "false_alarms": false,
            }
        )
    return natural, rows


def main() -> None:
    spend = sample_spend()
    first = math.floor(min(t for t, _ in spend) / DAY)
    mean_hour = sum(u for _, u in spend) / (7 * 24)
    forecast_rows = backtest(spend, first)
    natural, anomaly_rows = sensitivity(spend, first)
    print(f"sample week: {len(spend)} calls, ${sum(u for _, u in spend):.2f}")
    print("\nForecast backtest (90% interval)")
    print(f"{'fit -> forecast':18} {'forecast':>9} {'interval':>17} {'actual':>7} {'error':>7}")
    for r in forecast_rows:
        print(
            f"{r['backtest']:18} ${r['forecast_usd']:8.2f} "
            f"${r['low_usd']:6.2f}-${r['high_usd']:6.2f}  ${r['actual_usd']:6.2f} "
            f"{r['error']:+7.0%}{'' if r['inside'] else '  (outside)'}"
        )
    print(f"\nAnomalies: the week alone flags {len(natural)} hours; mean hour ${mean_hour:.3f}")
    print(f"{'loop adds':>10} {'x mean hour':>12} {'detected':>9} {'false alarms':>13}")
    for r in anomaly_rows:
        print(
            f"${r['loop_usd']:9.2f} {r['loop_usd'] / mean_hour:12.1f} {r['detected']:9.0%}"
            f" {r['false_alarms']:13}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "calls": len(spend),
                "mean_hour_usd": mean_hour,
                "forecast": forecast_rows,
                "natural_anomalies": len(natural),
                "anomaly": anomaly_rows,
            },
            indent=2,
        )
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
