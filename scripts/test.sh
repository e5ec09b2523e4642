#!/usr/bin/env bash
# The whole suite, in tiers, each its own pytest process. It fails closed: a tier that fails, or that
# collects no test, fails the run; a tier that does not apply says why it is skipped.
#   embedded default (nothing set): unit tier on SQLite (one worker per core), and the embedded-default browser test
#     (runserver on a random port, Chromium);
#   DATABASE_URL + REDIS_URL set: unit tier on PostgreSQL + Redis, the integration tier (a real Celery
#     worker) and the browser tier: Chromium against the production stack that `make prod` starts
#     (scripts/browser_on_stack.sh; its own database <name>_stack and the next Redis DB).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
status=0
failed=()

run_tier() {  # name, pytest args...
  local name=$1; shift
  echo "== ${name} =="
  $PY -m pytest "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "!! ${name}: no test was collected; a tier that runs nothing is a failure." >&2
  fi
  if [ $rc -ne 0 ]; then status=1; failed+=("${name} (pytest exit ${rc})"); fi
}

chromium_available() {
  command -v "${CHROMIUM_PATH:-chromium}" >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
}

browser_tier() {  # name, pytest args... — the only tiers where Playwright drives the ORM from its loop
  local name=$1; shift
  if ! chromium_available; then
    echo "!! ${name}: Chromium is missing (apt-get install -y chromium); the browser tier cannot run." >&2
    status=1; failed+=("${name} (no Chromium)"); return
  fi
  DJANGO_ALLOW_ASYNC_UNSAFE=true run_tier "${name}" "$@"
}

stack_tier() {  # name, pytest args...: the browser tier against `make prod` (scripts/browser_on_stack.sh)
  local name=$1; shift
  local nginx_found=0
  if command -v "${PROD_NGINX:-nginx}" >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then nginx_found=1; fi
  if ! chromium_available || [ $nginx_found -eq 0 ]; then
    echo "!! ${name}: needs Chromium and nginx (apt-get install -y chromium nginx-light)." >&2
    status=1; failed+=("${name} (missing Chromium or nginx)"); return
  fi
  echo "== ${name} =="
  DJANGO_ALLOW_ASYNC_UNSAFE=true scripts/browser_on_stack.sh "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "!! ${name}: no test was collected; a tier that runs nothing is a failure." >&2; fi
  if [ $rc -ne 0 ]; then status=1; failed+=("${name} (exit ${rc})"); fi
}

# The unit tier on every core (pytest-xdist; TEST_WORKERS=1 runs it in one process): each worker has a test
# database and a Redis DB of its own (config/settings/test.py). The other tiers run one test at a time.
run_tier "unit" -m "not integration and not e2e and not e2e_embedded" -n "${TEST_WORKERS:-auto}"

if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  run_tier "integration (real Celery worker)" -m integration
  stack_tier "browser (Chromium, production stack: make prod)" -m e2e inbox/tests/e2e
else
  browser_tier "browser (Chromium, embedded default)" -m e2e_embedded
  echo "-- integration and production-stack browser tiers skipped: they need DATABASE_URL and REDIS_URL" \
       "(PostgreSQL + Redis); see README \"The embedded default and the production stack\"."
fi

if [ $status -ne 0 ]; then
  echo "FAILED tiers: ${failed[*]}" >&2
fi
exit $status
