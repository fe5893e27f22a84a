# Targets shared by people and CI. `make run` and `make test` need nothing but python3.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean test-deploy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@ $(VENV)/.installed

# Both processes on the embedded defaults (or ./.env); one Ctrl-C stops both.
run: $(VENV)/.installed
	@$(BIN)/heartbeat-exporter & e=$$!; $(BIN)/heartbeat-alerter & a=$$!; \
	trap 'kill -TERM $$e $$a 2>/dev/null; wait' INT TERM; \
	wait -n; kill -TERM $$e $$a 2>/dev/null; wait

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/cycle_bench.py
	$(BIN)/python bench/http_phases.py
	$(BIN)/python bench/alert_latency.py
	$(BIN)/python bench/alert_channels.py

# Builds both images on the local Docker engine (offline: debootstrapped base, host-built wheels)
# and runs the compose stack end to end; see "Testing the deployment" in the README.
test-deploy: $(VENV)/.installed
	PYTHON=$(BIN)/python deploy/scripts/test-deploy.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
