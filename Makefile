# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## migrate, seed the demo city once, serve on http://127.0.0.1:8000
	$(BIN)/townsquare demo

test: $(STAMP)  ## the whole suite: SQLite always, PostgreSQL when TOWNSQUARE_TEST_DATABASE_URL is set
	$(BIN)/pytest -n 2 -q

test-fast: $(STAMP)  ## without the browser tests
	$(BIN)/pytest -n 2 -q -m "not browser"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)  ## benchmarks; figures land in docs/benchmarks.md
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

serve: $(STAMP)
	$(BIN)/townsquare serve

clean:
	rm -rf $(VENV) var .pytest_cache
