# imagegate: two commands on a fresh machine — `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_ADMIN ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: install install-js browser vendor run simulate test lint typecheck services check clean

STAMP := $(VENV)/.installed

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Installs once, and again whenever pyproject.toml changes: `make run` starts at once after that.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# The official JavaScript clients the tests use as compatibility judges (Node >= 20).
install-js:
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

# Debian's chromium for the browser tests (Playwright drives it; installed once, when missing).
browser:
	@scripts/chromium.sh

# Refresh the vendored Swagger UI and ReDoc assets (committed under app/static/vendor) from npm.
vendor:
	scripts/vendor_assets.sh

# Start the gateway on the embedded default (SQLite, in-process limits).
run: install
	$(BIN)/imagegate serve

# The gateway wired to the built-in provider simulators: try it with no provider keys.
simulate: install
	$(BIN)/imagegate serve --simulate

# Postgres and Redis for the test suite (started if not running).
services:
	@scripts/services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app providers simulator

typecheck: install
	$(BIN)/mypy app providers simulator

# Test processes (pytest-xdist): one per core of the 2-core machines the suite is made for.
TEST_JOBS ?= 2

# Install everything and run the whole suite: lint, types, tests (real Postgres and Redis).
test: install install-js browser services
	$(BIN)/ruff check .
	$(BIN)/mypy app providers simulator
	$(BIN)/pytest -q -n $(TEST_JOBS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
