# Quick start: `make run` and `make test` create .venv and install everything themselves.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: run test test-fast conformance lint deps bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: Python >= 3.11 is required (none found on PATH)"; exit 2; }
	@echo "Creating $(VENV) with $(PYTHON) and installing qrt_runner (first time: about 2 minutes)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The tests also cover the Ray launcher, an extra (qrt_runner[ray], about 300 MB: Ray itself 240 MB) that `make run` leaves out.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,ray]'
	@touch $(TEST_STAMP)

$(LINT_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[lint]'
	@touch $(LINT_STAMP)

run: $(STAMP)
	$(BIN)/qrt-run

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# The fast lane (under 2 minutes): everything but the CLI subprocess runs and the long physics checks.
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

# The differential conformance suite's large profile: random PUBs through qrt_runner and the
# references, shrinking what fails (make test runs its small fixed-seed profile): 7,200 examples, 5-10 minutes.
conformance: $(TEST_STAMP)
	QRT_CONFORMANCE=large $(BIN)/python -m pytest -n 2 --dist load -q tests/test_conformance.py tests/test_conformance_regressions.py

# Lint, format, types and layers (ruff, mypy and import-linter's contracts, configured in
# pyproject.toml); .ci/run runs it before the tests.
lint: $(LINT_STAMP)
	$(BIN)/ruff check qrt_runner tests benchmarks tools
	$(BIN)/ruff format --check qrt_runner tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports

# The README's picture of the layers, drawn from the import-linter contract and the code.
deps: $(TEST_STAMP)
	$(BIN)/python tools/draw_layers.py

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/vqe_loop.py
	$(BIN)/python benchmarks/sweep.py

clean:
	rm -rf $(VENV) outputs multirun mlflow.db mlflow.db.lock mlruns mlartifacts .ruff_cache .mypy_cache
