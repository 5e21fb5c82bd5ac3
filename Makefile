# Jiaoyan — `make demo` runs the pipeline end to end on the demo world; `make test` runs the suite.
# Every target sets up what it needs; run `make` or `make help` for the list.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

ROOT        := $(CURDIR)
TOOLS       := $(ROOT)/.venv-tools
UV          := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV        := $(ROOT)/.venv
SUPERSET_VENV := $(ROOT)/.venv-superset
PY          := $(VENV)/bin/python
JIAOYAN     := $(VENV)/bin/jiaoyan
DEMO_SEED   ?= 7
DEMO_LANDING ?= $(ROOT)/.data/landing
# the demo world, lighter than the scale's default: fewer videos to render and code (the year of logs, scores and
# pre-coded lessons is whole); `make demo DEMO_DATA_ARGS=` renders every video of the demo scale
DEMO_DATA_ARGS ?= --lessons-per-night 12 --gold-lessons 40
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: help setup warehouse down demo demo-data test test-unit test-integration lint format bench docs clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

$(SUPERSET_VENV)/.synced: superset/pyproject.toml superset/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(SUPERSET_VENV) $(UV) sync --frozen --quiet --project superset
	@touch $@

setup: $(VENV)/.synced $(SUPERSET_VENV)/.synced ## Create both locked environments (quick when nothing changed)

warehouse: setup ## Start the warehouse (a local cluster unless JIAOYAN_WAREHOUSE_URL is set) and migrate
	$(JIAOYAN) warehouse up

down: ## Stop the local warehouse cluster
	@if [ -x $(JIAOYAN) ]; then $(JIAOYAN) warehouse down; fi

demo-data: setup ## Generate the demo world into the landing zone (deterministic; skipped when present)
	@if [ -f $(DEMO_LANDING)/_truth/world.json ]; then \
	  echo "demo world present in $(DEMO_LANDING) (delete it to regenerate)"; \
	else $(JIAOYAN) demo-data --scale demo --seed $(DEMO_SEED) --out $(DEMO_LANDING) $(DEMO_DATA_ARGS); fi

demo: warehouse demo-data ## Set up, start the warehouse, generate the demo world, run the pipeline, say where to look
	$(JIAOYAN) pipeline demo --landing $(DEMO_LANDING)

airflow-ui: setup ## Airflow's UI on the project-local metadata (after `make demo`): http://localhost:8080
	eval "$$($(PY) -c 'from jiaoyan.pipeline import airflow_env as a; print(" ".join(f"export {k}={v};" for k, v in a.environment().items()))')" && \
	  $(VENV)/bin/airflow standalone

# unit tests first, so that a broken formula fails in a minute rather than after the integration tests (the demo
# world's generator starts its workers from a forkserver, so it no longer matters which threads this process has)
test: setup warehouse ## Run the whole test suite (unit and integration, real services)
	$(PY) -m pytest tests/unit tests/integration

test-unit: setup ## Run the unit tests only
	$(PY) -m pytest tests/unit

lint: setup ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true

format: setup ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .

bench: setup warehouse ## Run the benchmarks (BENCH="name ..." for some) and print ratios against baselines
	$(PY) tests/benchmarks/run.py $(BENCH)

docs: setup ## Regenerate generated documentation (data contracts)
	$(JIAOYAN) contracts docs --out docs/data-contracts.md

clean: down ## Stop the cluster and delete local state (.data) and environments
	rm -rf .data $(VENV) $(SUPERSET_VENV) $(TOOLS)
