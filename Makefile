# The commands of the project. `make` alone lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install chromium demo test test-fast bench lint fmt migrate seed clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install the pinned dependencies

chromium: ## install Debian's chromium for the browser tests when it is missing
	@scripts/ensure-chromium

demo: install chromium ## run the portal with seeded demo data on http://127.0.0.1:8000
	$(BIN)/python manage.py demo

test: install chromium ## run the whole test suite (SQLite, or PostgreSQL when DATABASE_URL is set)
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install ## run the tests that need no browser and no worker
	$(BIN)/pytest -m "not browser and not worker" $(PYTEST_ARGS)

bench: install ## run the benchmarks and print their figures
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install ## apply database migrations
	$(BIN)/python manage.py migrate

clean: ## remove local runtime files (database, broker folders, captured mail)
	rm -rf var staticfiles
