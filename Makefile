# Social Inbox — `make run` serves the demo, `make test` runs the whole suite.
# Both create the virtualenv first. Set DATABASE_URL / REDIS_URL to use PostgreSQL + Redis.

# The interpreter the virtualenv is made from. The distribution's packaged CPython (Debian's and
# Ubuntu's /usr/bin/python3.11: optimised with profiling and at link time, libpython linked in) runs
# the app's Python about a quarter faster than a default source build such as pyenv's (libpython as
# a shared library, no profile-guided optimisation): docs/serving.md, "The Python interpreter". It is
# taken when present and able to make a virtualenv; `make PYTHON=…` or the environment picks another.
ifndef PYTHON
PYTHON := $(shell /usr/bin/python3.11 -c "import ensurepip, venv" 2>/dev/null && echo /usr/bin/python3.11 || echo python3.11)
endif
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run prod test lint lock format venv worker beat bench bench-ingest bench-ingest-quick bench-floor bench-data \
	bench-pages bench-reports bench-browser bench-embedded bench-drain bench-tools clean

# Development installs the dev lock (runtime + tests and tools); production installs requirements.txt only.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

run: venv
	@PORT=$(PORT) scripts/run.sh

test: venv
	@scripts/test.sh

# The production stack on one machine (scripts/prod.sh): needs DATABASE_URL and REDIS_URL; nginx for TLS.
prod: venv
	@scripts/prod.sh

# ruff everywhere, mypy (django-stubs) on the apps listed in mypy.ini, the import rules of
# docs/architecture.md (.importlinter), and no model change without its migration.
lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-logo --no-cache
	@$(PY) manage.py makemigrations --check --dry-run -v0 || { echo "A model changed without a migration: run manage.py makemigrations."; exit 1; }

# Re-pin every transitive version after editing requirements.in or requirements-dev.in.
lock: venv
	@$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --annotation-style=line \
	  -o requirements.txt requirements.in
	@$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --annotation-style=line \
	  -o requirements-dev.txt requirements-dev.in

format: venv
	@$(VENV)/bin/ruff check --fix .

# Celery names no settings of its own (config/entrypoints.py): development's unless DJANGO_SETTINGS_MODULE says otherwise.
worker: venv
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(VENV)/bin/celery -A config worker -l info

beat: venv
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(VENV)/bin/celery -A config beat -l info

# Benchmarks (bench/README.md): real servers on this machine's PostgreSQL and Redis; they print
# their figures and write bench/results/*.json. They need wrk and Chromium (Debian packages,
# installed by `bench-tools` when missing and apt-get is usable).
bench-tools:
	@command -v wrk >/dev/null && test -x /usr/bin/chromium && test -x /usr/sbin/nginx || { \
	  echo "Installing wrk, chromium and nginx (Debian packages) for the benchmarks"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk chromium nginx-light >/dev/null; }

bench: venv bench-tools
	$(PY) bench/run_all.py

bench-ingest: venv bench-tools
	$(PY) bench/ingest.py

bench-ingest-quick: venv bench-tools
	$(PY) bench/ingest.py --quick

bench-floor: venv bench-tools
	$(PY) bench/floor_app.py

bench-drain: venv
	$(PY) bench/drain.py

bench-data: venv
	$(PY) bench/generate_data.py

bench-pages: venv
	$(PY) bench/pages.py

bench-reports: venv
	$(PY) bench/reports.py

bench-browser: venv bench-tools
	$(PY) bench/browser_latency.py

bench-embedded: venv bench-tools
	$(PY) bench/embedded.py

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-* media artifacts var
