# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint format bench install demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m app.catalogs
	touch $(STAMP)

install: $(STAMP)

# Migrate the SQLite file under instance/ (or DATABASE_URL) and load the demo; the demo
# adds only what is missing and prints a fresh API key of store SH01 on its last line.
demo: install
	@mkdir -p instance
	@$(BIN)/python -m app.catalogs >/dev/null
	$(BIN)/laoyou db upgrade
	$(BIN)/laoyou demo

# Serves until Ctrl-C; a second `make run` keeps the data. The outbox dispatcher runs in
# the same process, so the demo's alerts appear (in the log, with SMS_PROVIDER=console).
run: demo
	$(BIN)/laoyou run --host $(HOST) --port $(PORT) --with-dispatcher

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
