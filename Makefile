# The README's two commands are `make run` and `make test`; everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock | sha1sum | cut -c1-12)
PORT ?= 8000

.PHONY: install system-deps run test lint typecheck pytest bench lock clean

# --no-deps: the lock is complete; pip would otherwise re-resolve extras such as coverage[toml] unpinned.
$(STAMP): requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	@rm -f $(VENV)/.installed-* && touch $(STAMP)
	@echo "installed the locked dependencies into $(VENV)/"

install: $(STAMP)

## Debian packages the test suite needs (a Redis server); installed only where missing.
system-deps:
	@scripts/system-deps.sh

run: install
	@$(BIN)/python manage.py migrate --no-input -v0
	@PORT=$(PORT) $(BIN)/python manage.py runbrute

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: install
	$(BIN)/mypy .

## The whole suite in one pytest process, then the browser tests in their own (scripts/run-tests.sh);
## PYTEST_ARGS go to the first, e.g. `make pytest PYTEST_ARGS="-x -n 2"`.
pytest: install system-deps
	@scripts/run-tests.sh $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	@scripts/system-deps.sh bench
	$(BIN)/python -m bench

lock: install
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

clean:
	rm -rf $(VENV) var/cache var/celery
