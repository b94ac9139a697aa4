# Tenantry: the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= .tenantry
PORT ?= 8443
PYTEST_WORKERS ?= 2
export TENANTRY_DATA_DIR := $(abspath $(DATA_DIR))

.PHONY: run test install install-dev lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: migrate, bootstrap the demo (idempotent), serve over TLS on https://localhost:8443
run: install
	@$(BIN)/tenantry demo --domain localhost:$(PORT)
	@echo "  Serving on https://localhost:$(PORT) (Ctrl+C to stop)"
	@exec $(BIN)/tenantry serve --host 127.0.0.1 --port $(PORT) \
		--tls-cert $(TENANTRY_DATA_DIR)/tls/cert.pem --tls-key $(TENANTRY_DATA_DIR)/tls/key.pem

## make test: install what the tests need, start a throwaway PostgreSQL, run everything
test: install-dev
	@./scripts/system-deps.sh
	@./scripts/node-deps.sh
	@$(BIN)/ruff check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports --no-cache >/dev/null
	@url=$$(./scripts/pg-test.sh start) && export TENANTRY_TEST_PG_URL=$$url; \
	 $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider; rc=$$?; \
	 ./scripts/pg-test.sh stop; exit $$rc

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

bench: install-dev
	@./scripts/system-deps.sh
	@url=$$(PGPORT=54339 PGDIR=/tmp/tenantry-bench-pg ./scripts/pg-test.sh start) && export TENANTRY_BENCH_PG_URL=$$url; \
	 $(BIN)/python bench/create_users.py && $(BIN)/python bench/login.py && $(BIN)/python bench/tokens.py \
	   && $(BIN)/python bench/signup.py && $(BIN)/python bench/growth.py && $(BIN)/python bench/users_page.py; \
	 rc=$$?; PGPORT=54339 PGDIR=/tmp/tenantry-bench-pg ./scripts/pg-test.sh stop; exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
