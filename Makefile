# One obvious command per task. Every target sets up what it needs on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(HOME)/.suanli
PORT ?= 8600
SITE ?= local
POOL ?=

.PHONY: up test check bench install clean postgres lint types imports format ray-stop

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,sim]'
	@touch $(STAMP)

install: $(STAMP)

## up: set up and run the embedded network in the foreground (SQLite in $(DATA_DIR), a local site)
up: $(STAMP)
	$(BIN)/suanli up --data-dir $(DATA_DIR) --port $(PORT) --site $(SITE) $(foreach p,$(POOL),--pool $(p))

## test: set up PostgreSQL, a local Slurm, a local Ray and Chromium if needed and run the whole suite
test: $(STAMP)
	@scripts/ensure-postgres.sh
	@scripts/ensure-slurm.sh
	@scripts/ensure-ray.sh
	@scripts/ensure-chromium.sh
	$(BIN)/pytest -q -x --timeout=600; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

## check: lint, strict types, layer contracts
check: $(STAMP) lint types imports

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## bench: reported figures, not tests (see docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/schedule_cycle.py
	$(BIN)/python bench/control_cycle.py --sizes 1000x20,4000x40
	$(BIN)/python bench/month_spend.py --charges 2000,10000
	$(BIN)/python bench/voucher_capture.py --charges 1000,5000
	@scripts/ensure-slurm.sh && $(BIN)/python bench/engines.py
	$(BIN)/python bench/sim_compare.py
	$(BIN)/python bench/sim_compare.py --synthetic --policy suanli-las

## ray-stop: stop the local Ray that `make test` started (only that one: never a bare `ray stop`)
ray-stop:
	@scripts/ensure-ray.sh stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
