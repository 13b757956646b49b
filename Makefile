# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint format bench install demo clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pyscard (in .[dev]) builds against the PC/SC headers: the system packages come first.
$(STAMP): $(BIN)/python pyproject.toml
	@$(MAKE) --no-print-directory system-deps
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

# Serves until Ctrl-C; a second `make run` keeps the data. The outbox dispatcher and the
# scheduled jobs run in the same process, so the demo's alerts appear (in the log, with
# SMS_PROVIDER=console) and expiry, reminders and the nightly check run on time.
run: demo
	$(BIN)/laoyou run --host $(HOST) --port $(PORT) --with-dispatcher --with-scheduler

# The browser tests drive Debian's Chromium and need a CJK font; the store station's card
# reader tests run pcscd with the vpcd virtual reader, and pyscard (the station extra, in
# .[dev]) builds against libpcsclite-dev with swig. Installed when missing (as root on
# Debian: the machines here); quick when they are there. Elsewhere it says what is missing,
# and those tests skip (CI=true fails them instead).
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpcsclite-dev swig pcscd vsmartcard-vpcd

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "missing system packages:$$missing (install them to run the browser and station tests)"; \
	fi

test: install system-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for f in bench/[!_]*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
