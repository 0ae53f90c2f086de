# Parcel Service — developer commands. Every target installs what it needs from a bare clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-dev
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-strip-extras --no-emit-index-url --no-emit-find-links

# flock (util-linux) serialises installs; where it is missing (macOS) the install runs unlocked.
FLOCK := $(if $(shell command -v flock 2>/dev/null),flock $(VENV)/.install.lock,)

.PHONY: help venv run worker test lint format lock schema schema-check label-png serve bench soak clean
.DEFAULT_GOAL := help

## help: list every target with what it does
help:
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1\t\2/p' $(MAKEFILE_LIST) | awk -F'\t' '{printf "  make %-13s %s\n", $$1, $$2}'

# Two targets started together (`make test & make lint`) both need the venv: the second waits for the
# lock, then finds the stamp fresh and installs nothing, instead of racing pip over the same files.
$(STAMP): requirements/dev.txt
	@mkdir -p $(VENV)
	@$(FLOCK) $(SHELL) -c 'if [ $@ -nt requirements/dev.txt ]; then echo "$(VENV) is up to date"; exit 0; fi; \
	  set -ex; $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt; \
	  touch $@'

## venv: create .venv and install the pinned, hash-checked dev requirements (every target does this first)
venv: $(STAMP)

# The webhook worker, with beat embedded: as deploy/docker-entrypoint.sh runs it, on one machine.
CELERY_WORKER := $(BIN)/celery -A core_project worker -B --pool threads --concurrency 4 --without-mingle --without-gossip --loglevel INFO

## run: migrate the SQLite dev database, create demo accounts, serve on 127.0.0.1:8000 with a webhook worker
# Without REDIS_URL the worker's broker is the .celery-broker/ directory: webhooks work with nothing else installed.
run: venv
	@bash deploy/label-tools.sh || echo "make run: PDF labels answer 503 until their fonts are installed (deploy/label-tools.sh)"
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_users
	@mkdir -p .celery-broker
	@$(CELERY_WORKER) & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT; $(PY) manage.py runserver 127.0.0.1:8000

## worker: only the webhook worker (with beat), for a server you run yourself (same DATABASE_URL, REDIS_URL)
worker: venv
	@mkdir -p .celery-broker
	$(CELERY_WORKER)

## test: the whole suite with coverage (SQLite + local memory; set DATABASE_URL/REDIS_URL for PostgreSQL + Redis)
test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

## lint: ruff and black --check, as CI runs them
lint: venv
	$(BIN)/ruff check .
	$(BIN)/black --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## format: ruff --fix and black, rewriting files in place
format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/black .

## lock: recompile requirements/*.txt with hashes (base first: dev and prod are constrained by it)
# Only base.txt strips extras (a constraints file cannot carry them). dev.txt and prod.txt keep them:
# pip's hash-checking mode rejects a dependency's `pkg[extra]` unless the pin itself names the extra.
lock: venv
	$(PIP_COMPILE) --strip-extras requirements/base.in -o requirements/base.txt
	$(PIP_COMPILE) requirements/prod.in -o requirements/prod.txt
	$(PIP_COMPILE) requirements/dev.in -o requirements/dev.txt

## schema: regenerate the committed OpenAPI document
schema: venv
	DJANGO_SETTINGS_MODULE=core_project.settings.test $(PY) manage.py spectacular --file openapi.yaml --validate --fail-on-warn

## schema-check: fail if openapi.yaml differs from what the code generates (CI runs it)
schema-check: venv
	DJANGO_SETTINGS_MODULE=core_project.settings.test $(PY) manage.py spectacular --file $(VENV)/openapi.generated.yaml --validate --fail-on-warn
	diff -u openapi.yaml $(VENV)/openapi.generated.yaml && echo "openapi.yaml is up to date"
	$(BIN)/openapi-spec-validator openapi.yaml

## label-png: render the sample shipping label (Polish and Japanese addresses) to docs/label.png at 150 dpi (needs poppler-utils and the label fonts)
label-png: venv
	DJANGO_SETTINGS_MODULE=core_project.settings.test $(PY) manage.py sample_label --output $(VENV)/label.pdf
	mkdir -p docs
	pdftoppm -png -gray -r 150 -singlefile $(VENV)/label.pdf docs/label

## clean: remove .venv, collected static files and tool caches (not the SQLite database)
clean:
	rm -rf $(VENV) staticfiles .coverage .pytest_cache .ruff_cache

## serve: what the image runs, locally: prod settings, collectstatic, Gunicorn (set SECRET_KEY, DATABASE_URL, REDIS_URL, ALLOWED_HOSTS)
serve: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" bash deploy/serve.sh

## bench: the performance benchmark (prod settings, Gunicorn, PostgreSQL + Redis, wrk); see bench/README.md
bench: venv
	bash bench/run.sh

## soak: 10 minutes of mixed load at ~70% of capacity, then 3x overload and recovery (not in CI; ~13 min)
soak: venv
	bash bench/run.sh --soak
