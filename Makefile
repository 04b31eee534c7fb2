# The two commands: `make run` serves the API, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint format schema check-schema bench bench-scale bench-memory wrk clean

# Serves on 127.0.0.1:$(PORT), or on GUNICORN_BIND when it is set (notesite/gunicorn.py).
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PORT=$(PORT) GUNICORN_EXIT_WITH_PARENT=1 exec $(BIN)/gunicorn --config python:notesite.gunicorn

# On PostgreSQL the settings require a SECRET_KEY, as they do of every instance
# there; the test run gets one of its own unless one is given.
test: export SECRET_KEY ?= test-run-only-Vq2mXp9LsR4tWz7KVq2mXp9LsR4tWz7KVq2mXp9LsR4tWz7K
test: $(VENV)/.installed-dev
	$(BIN)/pytest $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the committed OpenAPI schema after an API change.
schema: $(VENV)/.installed-dev
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

# Fail if the committed schema is not what the code generates.
check-schema: $(VENV)/.installed-dev
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(VENV)/openapi.yaml
	diff -u docs/openapi.yaml $(VENV)/openapi.yaml

# Throughput per core against the tutorial's app and a bare WSGI ceiling, and
# one instance against two on PostgreSQL (writes bench/RESULTS.md and
# bench/throughput.png). wrk comes from Debian's package.
bench: $(VENV)/.installed-dev wrk
	$(BIN)/python bench/throughput.py $(ARGS)

# Seed 1,000,000 notes on SQLite and PostgreSQL and time search and paging
# over HTTP (bench/RESULTS.md).
bench-scale: $(VENV)/.installed-dev
	$(BIN)/python bench/scale.py

# A worker's RSS across 100,000 requests (writes bench/RESULTS.md).
bench-memory: $(VENV)/.installed-dev wrk
	$(BIN)/python bench/memory.py $(ARGS)

wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

clean:
	rm -rf $(VENV) staticfiles

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --requirement requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --requirement requirements-dev.txt
	touch $@ $(VENV)/.installed
