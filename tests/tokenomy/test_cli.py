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
        timeout=600,  # a hang guard, not a time target (benchmarks/audit_sample.py times it)
    )
    assert out.returncode == 0, out.stderr
    assert "What each technique would save" in out.stdout
    assert (tmp_path / "r.html").stat().st_size > 10_000


def _nasty_workload(tmp_path):
    good = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
        "response": "Hello",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    lines = [
        json.dumps(good),
        json.dumps({**good, "model": "gpt-4o\x1b]0;pwned\x07\x1b[2J"}),
        json.dumps({**good, "timestamp": 1e308}),
        json.dumps({**good, "model": "m\ud800"}),
        json.dumps({**good, "usage": {"prompt_tokens": -5, "completion_tokens": 1}}),
    ]
    path = tmp_path / "nasty.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_audit_escapes_terminal_controls_and_names_each_skipped_line(tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    args = ["audit", str(_nasty_workload(tmp_path)), "--html", str(html), "--json", str(js)]
    assert main([*args, "--only", "exact_cache"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "gpt-4o\\x1b]0;pwned\\x07\\x1b[2J" in out
    assert "line 3: timestamp" in out and "line 5: 'usage.prompt_tokens' is -5" in out
    assert "m\ufffd" in html.read_text(encoding="utf-8")
    data = json.loads(js.read_text())
    assert data["calls"] == 3 and [e["line"] for e in data["skipped_lines"]] == [3, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nasty.jsonl", "r.html", "r.json"]


@pytest.mark.parametrize(
    "args",
    [["audit", "--top", "-3"], ["audit", "--top", "x"], ["price", "--input-tokens", "-1"]],
)
def test_cli_numbers_are_range_checked(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "must be an integer >= 0" in err or "expected an integer" in err


def test_reports_are_written_atomically(tmp_path, monkeypatch, capsys):
    import tokenomy.audit

    html = tmp_path / "r.html"
    html.write_text("the previous report")

    def broken(report):
        raise OSError("disk full while rendering")

    monkeypatch.setattr(tokenomy.audit, "render_html", broken)
    assert (
        main(
            ["audit", str(_nasty_workload(tmp_path)), "--html", str(html), "--only", "exact_cache"]
        )
        == 1
    )
    assert html.read_text() == "the previous report"  # never a 0-byte or half report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nasty.jsonl", "r.html"]


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    from pathlib import Path

    from tokenomy.cli import write_atomic

    target = tmp_path / "r.html"
    write_atomic(target, "one \ud800")
    assert target.read_text(encoding="utf-8") == "one ?"
    monkeypatch.setattr(Path, "replace", lambda self, other: (_ for _ in ()).throw(OSError("x")))
    with pytest.raises(OSError):
        write_atomic(target, "two")
    assert target.read_text(encoding="utf-8") == "one ?"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_a_failing_plugin_is_one_line_and_its_traceback_only_with_debug(tmp_path):
    script = (
        "import sys\n"
        "from tokenomy.audit import register_audit_plugin\n"
        "class Broken:\n"
        "    name, title = 'broken', 'Broken'\n"
        "    def estimate(self, context):\n"
        "        raise RuntimeError('the plug-in has a bug')\n"
        "register_audit_plugin('broken', Broken)\n"
        "from tokenomy.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    base = [sys.executable, "-c", script, "audit", str(_nasty_workload(tmp_path)), "--no-html"]
    base += ["--only", "broken"]
    quiet = subprocess.run(base, capture_output=True, text=True, timeout=120, env=_env())
    assert quiet.returncode == 0
    assert "plug-in 'broken' failed (RuntimeError: the plug-in has a bug)" in quiet.stderr
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.strip().splitlines()) == 1
    loud = subprocess.run(
        [*base, "--debug"], capture_output=True, text=True, timeout=120, env=_env()
    )
    assert loud.returncode == 0 and "Traceback" in loud.stderr


def _env():
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / "core"), env.get("PYTHONPATH", "")])
    return env


def test_version_and_python_dash_m():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tokenomy", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("tokenomy ")


def test_a_closed_pipe_is_a_clean_exit():
    import subprocess
    import sys

    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'tokenomy', 'price', '--list'],\n"
        "                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.readline(); p.stdout.close()\n"
        "err = p.stderr.read().decode(); code = p.wait()\n"
        "print(code, 'Traceback' in err, 'Broken pipe' in err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 False False", out.stdout + out.stderr


def test_one_progress_display_names_each_step_on_a_terminal(monkeypatch, capsys):
    import io
    import sys

    from tokenomy.audit import sample_workload_path
    from tokenomy.cli import main

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    code = main(
        ["audit", str(sample_workload_path()), "--no-html", "--only", "exact_cache,output_caps"]
    )
    assert code == 0
    shown = err.getvalue()
    assert "reading" in shown and "Exact-match cache" in shown and "Response length" in shown


def test_json_summary_has_what_the_text_shows_and_null_for_unknown_costs(tmp_path):
    import json

    from tokenomy.cli import main

    workload = tmp_path / "w.jsonl"
    workload.write_text(
        json.dumps(
            {"model": "my-own-model", "prompt": "hi", "response": "ok", "tags": {"feature": "faq"}}
        )
    )
    out = tmp_path / "a.json"
    assert (
        main(["audit", str(workload), "--no-html", "--json", str(out), "--only", "exact_cache"])
        == 0
    )
    data = json.loads(out.read_text())
    assert data["cost_usd"] is None and data["by_model"]["my-own-model"]["cost_usd"] is None
    assert data["by_tag"]["feature"][0]["feature"] == "faq"
    assert data["top_requests"][0]["model"] == "my-own-model"
    assert data["timeline"]["rows"] == [] or "calls" in data["timeline"]["rows"][0]


def test_price_update_converts_a_litellm_file_and_keeps_our_aliases(tmp_path, capsys):
    import json

    from tokenomy.cli import main
    from tokenomy.tokens import PriceTable

    source = tmp_path / "model_prices.json"
    source.write_text(
        json.dumps(
            {
                "sample_spec": {"mode": "chat"},  # no prices: skipped
                "claude-sonnet-4-20250514": {
                    "input_cost_per_token": 2e-6,
                    "output_cost_per_token": 1e-5,
                    "cache_creation_input_token_cost": 2.5e-6,
                    "litellm_provider": "anthropic",
                    "mode": "chat",
                },
                "text-embedding-3-small": {"input_cost_per_token": 2e-8, "mode": "embedding"},
            }
        )
    )
    out = tmp_path / "prices.json"
    assert main(["price", "--update", str(source), "--out", str(out)]) == 0
    assert "wrote 1 models" in capsys.readouterr().out
    table = PriceTable.default().with_file(out)
    price = table.get("claude-sonnet-4")  # the bundled alias still resolves
    assert (price.input, price.output, price.cache_write) == (2.0, 10.0, 2.5)
