#!/usr/bin/env bash
# The whole suite. On the embedded default: unit and live-server tests on SQLite.
# With DATABASE_URL and REDIS_URL set: the same on PostgreSQL + Redis, then the integration tier
# (a real Celery worker) and the browser tier (Chromium via Playwright), each in its own process.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
status=0

run_tier() {  # name, pytest args...
  local name=$1; shift
  echo "== ${name} =="
  $PY -m pytest "$@"
  local rc=$?
  # 5 = nothing collected in this tier, which is not a failure.
  if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then status=$rc; fi
}

run_tier "unit" -m "not integration and not e2e"
if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  run_tier "integration (real Celery worker)" -m integration
  if command -v "${CHROMIUM_PATH:-chromium}" >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    run_tier "browser (Chromium)" -m e2e
  else
    echo "Chromium is missing: apt-get install -y chromium (the browser tier needs it)."; status=1
  fi
fi
exit $status
