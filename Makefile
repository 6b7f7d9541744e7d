# The two quick-start commands (README): `make demo` and `make test`. Both set everything up themselves.
AIRFLOW_VERSION ?= 3.3.2
# The oldest Airflow the provider supports, and the newest patch of each minor between it and the newest:
# CI runs the suite on each, and the stack tests on the floor and the newest (docs/versions.md).
AIRFLOW_FLOOR := 3.0.6
AIRFLOW_BETWEEN := 3.1.8 3.2.2
VENV = .venv/airflow-$(AIRFLOW_VERSION)
# `make sandbox SANDBOX_PORT=8091` when 8090 is taken.
SANDBOX_PORT ?= 8090

.PHONY: demo test test-fast test-stack test-all lint docs sandbox bench

demo:
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	$(VENV)/bin/python scripts/demo.py

# `make test` leaves out the stack tests (`make test-stack`): they start PostgreSQL and Chromium.
PYTEST_MARKERS ?= not stack
test: lint
	$(VENV)/bin/python -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

lint:
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	$(VENV)/bin/ruff check airflow_provider_videotask tests scripts $(wildcard example_dags benchmarks)
	$(VENV)/bin/ruff format --check airflow_provider_videotask tests scripts $(wildcard example_dags benchmarks)
	$(VENV)/bin/mypy

# The fast set while you work (no whole DAG runs, no real Airflow processes): about a minute.
test-fast:
	$(MAKE) test PYTEST_MARKERS="not slow and not integration and not stack"

# The whole stack on PostgreSQL (killed triggerer, two triggerers, killed worker, restarted scheduler)
# and the UI in Chromium: a few minutes. Installs PostgreSQL and Chromium with apt when root.
STACK_MARKERS ?= stack
test-stack:
	@scripts/system-deps.sh
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	@VIRTUAL_ENV=$(VENV) .venv/tools/bin/uv pip install --quiet -e ".[test,stack]" --constraint constraints/airflow-$(AIRFLOW_VERSION).txt
	$(VENV)/bin/python -m pytest -m "$(STACK_MARKERS)" $(PYTEST_ARGS) tests/stack

# About 45 minutes: the whole suite on the floor and on the newest (the floor skips the few long tests of
# paths no Airflow version changes, `once`), the fast suite on the minors between (no whole-DAG runs,
# `slow`), the stack tests on the floor (but the `once`) and on the newest.
test-all:
	$(MAKE) test AIRFLOW_VERSION=$(AIRFLOW_FLOOR) PYTEST_MARKERS="not stack and not once"
	$(foreach version,$(AIRFLOW_BETWEEN),$(MAKE) test AIRFLOW_VERSION=$(version) PYTEST_MARKERS="not stack and not once and not slow" &&) true
	$(MAKE) test AIRFLOW_VERSION=3.3.2
	$(MAKE) test-stack AIRFLOW_VERSION=$(AIRFLOW_FLOOR) STACK_MARKERS="stack and not once"
	$(MAKE) test-stack AIRFLOW_VERSION=3.3.2
	$(MAKE) docs

# The documentation site, built as CI builds it: a warning is an error. Output in build/site/.
docs:
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	@VIRTUAL_ENV=$(VENV) .venv/tools/bin/uv pip install --quiet -e ".[docs]" --constraint constraints/airflow-$(AIRFLOW_VERSION).txt
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The benchmarks behind the figures in docs/scale.md, docs/batches.md and docs/spend-safety.md (about 50 minutes).
# aiohttp is the client of bench_poller.py's per-task peer, as most providers' triggers use it;
# bench_callbacks.py runs on the stack tests' PostgreSQL and Airflow processes.
bench:
	@scripts/system-deps.sh
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	@VIRTUAL_ENV=$(VENV) .venv/tools/bin/uv pip install --quiet aiohttp -e ".[test,stack]" --constraint constraints/airflow-$(AIRFLOW_VERSION).txt
	$(VENV)/bin/python benchmarks/bench_poller.py
	$(VENV)/bin/python benchmarks/bench_fan_out.py
	$(VENV)/bin/python benchmarks/bench_callbacks.py
	$(VENV)/bin/python benchmarks/bench_gallery.py
	$(VENV)/bin/python benchmarks/bench_batch.py

sandbox:
	@scripts/bootstrap.sh $(AIRFLOW_VERSION) >/dev/null
	$(VENV)/bin/python -m airflow_provider_videotask.sandbox --port $(SANDBOX_PORT)
