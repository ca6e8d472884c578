"""Every example script runs offline and prints what its docstring promises."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("count_and_price.py", "exact, o200k_base"),
        ("langchain_usage.py", "saved=26 tokens"),
        ("llamaindex_usage.py", "user=alice"),
        ("langchain_cache.py", "carol  stream -> model answer #2"),
        ("llamaindex_cache.py", "1 model call, 2 served from the cache"),
        ("langchain_context.py", "fact kept: True; state keeps 16 messages"),
        ("llamaindex_context.py", "fact kept: True; the store keeps 16"),
        ("fewshot_selection.py", "- Who painted the Sistine Chapel ceiling? -> person"),
        ("routing.py", "attempts [('small', 'error'), ('large', 'ok')]"),
        ("spend_budget.py", "5 answered, 3 refused, $5.00 spent"),
        ("telemetry.py", "cache hit = exact_cache, stages = ['hit']"),
    ],
)
def test_example_runs(script, expected):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert expected in out.stdout
