"""``tokenomy serve``: checks the configuration before opening the port, says where it
listens, and hashes keys read from stdin (never from the command line)."""

from __future__ import annotations

import io
import sys

import pytest

from tokenomy.cli import main
from tokenomy.serve import hash_key


def test_hash_key_reads_the_key_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-acme\n"))
    assert main(["serve", "--hash-key"]) == 0
    assert capsys.readouterr().out.strip() == hash_key("sk-acme")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["serve", "--hash-key"]) == 1


def test_serve_without_a_configuration_says_how_to_give_one(monkeypatch, capsys):
    monkeypatch.delenv("TOKENOMY_SERVE__CONFIG_FILE", raising=False)
    assert main(["serve"]) == 1
    assert "--config gateway.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: {}\n", "valid gateway configuration"),
        (
            "models:\n  m:\n    base_url: http://127.0.0.1:9/v1\n    api_key_env: NOT_SET_X\n"
            "auth: none\n",
            "export NOT_SET_X=",
        ),
    ],
)
def test_a_bad_configuration_fails_before_the_port_opens(
    tmp_path, monkeypatch, capsys, text, message
):
    monkeypatch.delenv("NOT_SET_X", raising=False)
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    assert main(["serve", "--config", str(path), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert message in err and "listening" not in err
