# Social Inbox — `make run` serves the demo, `make test` runs the whole suite.
# Both create the virtualenv first. Set DATABASE_URL / REDIS_URL to use PostgreSQL + Redis.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint format venv worker beat bench bench-ingest bench-ingest-quick bench-floor bench-data \
	bench-pages bench-browser bench-drain bench-tools clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

run: venv
	@PORT=$(PORT) scripts/run.sh

test: venv
	@scripts/test.sh

lint: venv
	@$(VENV)/bin/ruff check .

format: venv
	@$(VENV)/bin/ruff check --fix .

worker: venv
	$(VENV)/bin/celery -A config worker -l info

beat: venv
	$(VENV)/bin/celery -A config beat -l info

# Benchmarks (bench/README.md): real servers on this machine's PostgreSQL and Redis; they print
# their figures and write bench/results/*.json. They need wrk and Chromium (Debian packages,
# installed by `bench-tools` when missing and apt-get is usable).
bench-tools:
	@command -v wrk >/dev/null && test -x /usr/bin/chromium || { \
	  echo "Installing wrk and chromium (Debian packages) for the benchmarks"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk chromium >/dev/null; }

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

bench-browser: venv bench-tools
	$(PY) bench/browser_latency.py

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-* media artifacts
