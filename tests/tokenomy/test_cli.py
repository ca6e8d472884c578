import json
import subprocess
import sys

import pytest

from tokenomy.cli import main


def test_audit_writes_html_and_json_and_names_broken_lines(workload, tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["audit", str(workload), "--html", str(html), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "line 41" in out and f"HTML report: {html}" in out
    assert html.read_text().startswith("<!doctype html>")
    data = json.loads(js.read_text())
    assert data["calls"] == 40 and [e["line"] for e in data["skipped_lines"]] == [41, 42]


def test_audit_of_a_missing_file_fails_with_a_message(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "none.jsonl"), "--no-html"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_count_text_files_and_chat_json(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("hello world")
    (tmp_path / "m.json").write_text(json.dumps([{"role": "user", "content": "hello world"}]))
    assert (
        main(["count", str(tmp_path / "a.txt"), str(tmp_path / "m.json"), "--model", "gpt-4o"]) == 0
    )
    out = capsys.readouterr().out
    assert "2  " in out and "(text, o200k_base, exact)" in out
    assert "9  " in out and "(chat, o200k_base, exact)" in out
    assert main(["count", "--text", "hello", "--model", "claude-3-5-haiku"]) == 0
    assert "estimate" in capsys.readouterr().out


def test_price_lookup_cost_and_unknown(capsys):
    assert main(["price", "gpt-4o", "--input-tokens", "1000000", "--output-tokens", "1000000"]) == 0
    assert "$12.500000" in capsys.readouterr().out
    assert main(["price", "no-such-model"]) == 1
    assert "no price for 'no-such-model'" in capsys.readouterr().err
    assert main(["price", "--list"]) == 0
    assert capsys.readouterr().out.count("\n") >= 52


def test_price_file_override_from_the_environment(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"in-house": {"input": 1, "output": 2}}))
    monkeypatch.setenv("TOKENOMY_TOKENS__PRICES_FILE", str(path))
    assert main(["price", "in-house"]) == 0
    assert "in-house" in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_runs_the_bundled_sample(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "tokenomy.cli", "audit", "--html", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "What each technique would save" in out.stdout
    assert (tmp_path / "r.html").stat().st_size > 10_000
