"""`tokenomy forecast`: the forecast, the monthly limit's date and the anomalous hours
of a usage ledger."""

import datetime as dt

from tokenomy.cli import main
from tokenomy.monitor import SQLiteLedger, UsageRecord

JAN_1 = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()


def test_a_ledger_gets_a_forecast_a_date_and_its_spike(tmp_path, capsys):
    ledger = SQLiteLedger(tmp_path / "usage.db")
    for day in range(10):
        for hour in (9, 11, 14, 16):  # $0.25 four times a day
            ledger.record(
                UsageRecord(
                    model="gpt-4o", cost_usd=0.25, timestamp=JAN_1 + day * 86400 + hour * 3600
                )
            )
    ledger.record(
        UsageRecord(model="gpt-4o", cost_usd=9.0, timestamp=JAN_1 + 9 * 86400 + 14 * 3600)
    )
    ledger.close()
    assert main(["forecast", str(tmp_path / "usage.db"), "--monthly-limit", "30"]) == 0
    out = capsys.readouterr().out
    assert "41 calls, $19.00" in out
    assert "monthly limit runs out on 2027-01-1" in out
    assert "1 anomalous hour(s)" in out and "2027-01-10 14:00 UTC" in out
