# The commands of the project. `make` alone lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install chromium dovecot demo test test-fast bench lint fmt migrate seed clean messages

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

dovecot: ## install Debian's dovecot-imapd for the IMAP mailbox tests when it is missing
	@scripts/ensure-dovecot

demo: install chromium ## run the portal with seeded demo data on http://127.0.0.1:8000
	$(BIN)/python manage.py demo

# The suite runs in two parts: what needs no browser and no worker on TEST_WORKERS processes
# (pytest-xdist, a database each), then the browser and worker tests one at a time.
TEST_WORKERS ?= 2

test: install chromium dovecot ## the whole suite: needs Redis (TEST_REDIS_URL); SQLite or DATABASE_URL
	$(BIN)/pytest -m "not browser and not worker" -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(BIN)/pytest -m "browser or worker" $(PYTEST_ARGS)

test-fast: install dovecot ## the tests that need no browser, no worker and no Redis
	$(BIN)/pytest -m "not browser and not worker and not redis" $(PYTEST_ARGS)

bench: install ## run the benchmarks and print their figures
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: install ## ruff lint and format check; nothing may point outside the repository
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_repo_paths.py

fmt: install ## format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install ## apply database migrations
	$(BIN)/python manage.py migrate

clean: ## remove local runtime files (database, broker folders, captured mail)
	rm -rf var staticfiles

messages: install ## extract the strings to translate into locale/de and compile the catalogs
	$(BIN)/python manage.py makemessages --locale=de --ignore=.venv --ignore=var --ignore=staticfiles --ignore=tests --ignore=benchmarks --no-obsolete
	$(BIN)/python manage.py compilemessages --locale=de --ignore=.venv
