# Every target bootstraps what it needs: a pinned uv in .tools/, then .venv from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo serve test test-postgres lint format typecheck bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(BIN)/omnicanal: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet
	@touch $@

install: $(BIN)/omnicanal

demo: $(BIN)/omnicanal  ## Serve API and console on SQLite with a demo retailer.
	PORT=$(PORT) $(BIN)/omnicanal demo --port $(PORT)

serve: $(BIN)/omnicanal
	$(BIN)/omnicanal serve --port $(PORT)

test: $(BIN)/omnicanal  ## The whole suite (OMNICANAL_TEST_DATABASE_URL picks the database).
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-postgres: $(BIN)/omnicanal
	OMNICANAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(BIN)/omnicanal
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/omnicanal
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/omnicanal  ## Benchmarks; results go to bench/results/ and docs/benchmarks.md.
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
