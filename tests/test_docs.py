"""The docs stay true: every page's examples run (doctest), the configuration reference
is what the code says, and the site builds in strict mode (no broken link or reference)."""

import doctest
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
# A landing page, a map of topics, the generated API reference, and guide pages whose runnable examples
# are the scripts in examples/ (run by tests/test_examples.py) and the benchmarks.
NO_EXAMPLES = {
    "index.md",
    "techniques.md",
    "api.md",
    "audit.md",
    "usage.md",
    "cache.md",
    "context.md",
    "fewshot.md",
    "routing.md",
    "benchmarks.md",
    "development.md",
}


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_doc_examples_run(page):
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0 or page.name in NO_EXAMPLES, f"{page.name} has no examples"
    assert result.failed == 0


def test_the_configuration_reference_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_config_reference import render
    finally:
        sys.path.pop(0)
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run python scripts/build_config_reference.py"
    )


def test_the_docs_site_builds_in_strict_mode(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "site" / "pipeline" / "index.html").is_file()
    assert "Pipeline" in (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
