# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint bench serve vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The app alone for the demo; the test extra (Playwright, PySpark, schemathesis …) for tests.
$(VENV)/.app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.app $@

# The benchmarks also need the bench extra (highspy: the planner's LP comparison, never skipped).
$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.app $(VENV)/.test $@

demo: $(VENV)/.app  ## migrate, seed the demo city once, serve on http://127.0.0.1:8000
	$(BIN)/townsquare demo

test: $(VENV)/.test  ## SQLite always; PostgreSQL when TOWNSQUARE_TEST_DATABASE_URL is set
	$(BIN)/pytest -n 2 -q

test-fast: $(VENV)/.test  ## without the browser tests
	$(BIN)/pytest -n 2 -q -m "not browser"

lint: $(VENV)/.test  ## ruff, and mypy (strict on the pure cores; see pyproject.toml)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.bench  ## benchmarks; figures land in docs/benchmarks.md
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

serve: $(VENV)/.app
	$(BIN)/townsquare serve

vendor: $(VENV)/.app  ## re-vendor ECharts and the used Lucide icons from npm (needs npm; output is committed)
	$(BIN)/python scripts/vendor.py

clean:
	rm -rf $(VENV) var .pytest_cache
