#!/usr/bin/env bash
# Serve the demo: migrate, load demo data, and run the server (daphne: HTTP + WebSocket).
# With REDIS_URL set, a Celery worker and beat run beside it (the production shape on one machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
# The development settings, for manage.py and the Celery processes below (which name none themselves).
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
# runserver and simulate_customer find the served port themselves; the demo data and the Celery
# workers (other processes) take it from here.
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"

$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
$PY manage.py seed_demo

pids=()
cleanup() { for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}" ]; then
  echo "Starting Celery workers and beat (REDIS_URL is set)..."
  # As in production (README): below the server's CPU priority, so webhook answers come first; one
  # process for the CPU-bound live queue (webhook drains, replies), more for lookups and downloads.
  nice -n 10 .venv/bin/celery -A config worker -Q live -n live@%h -l warning --concurrency 1 & pids+=($!)
  nice -n 10 .venv/bin/celery -A config worker -Q celery -n background@%h -l warning --concurrency 2 & pids+=($!)
  .venv/bin/celery -A config beat -l warning --schedule /tmp/social-inbox-beat & pids+=($!)
fi

cat <<MSG

  Social Inbox is running at  ${SITE_URL}/
  Log in as                   demo@example.com  /  demo-password
  A colleague (agent)         marco@example.com /  demo-password
  Operators' admin            ${SITE_URL}/admin/   (same login)
  Send yourself a message     .venv/bin/python manage.py simulate_customer --text "Hello!"

MSG
exec $PY manage.py runserver "127.0.0.1:${PORT}"
