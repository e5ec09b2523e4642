#!/usr/bin/env bash
# The browser tier against the production stack, started exactly as the README starts it (`make prod`:
# nginx + TLS, gunicorn WSGI and ASGI workers, Celery live and background workers, beat, the sandbox as
# Meta), on a fresh database and Redis DB of its own; then pytest -m e2e against its https address.
# Called by scripts/test.sh when DATABASE_URL and REDIS_URL are set; pytest arguments are passed on.
#   STACK_DATABASE_URL  default: DATABASE_URL's server, database <name>_stack (dropped and created)
#   STACK_REDIS_URL     default: REDIS_URL's server, the next DB number (flushed)
#   PROD_PORT etc.      as scripts/prod.sh reads them; defaults here avoid the usual 8443/8000 ports
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${STACK_DATABASE_URL:-}" ]]; then
  STACK_DATABASE_URL="${DATABASE_URL%%\?*}_stack"
fi
if [[ -z "${STACK_REDIS_URL:-}" ]]; then
  if [[ "$REDIS_URL" =~ ^(.*)/([0-9]+)$ ]]; then
    STACK_REDIS_URL="${BASH_REMATCH[1]}/$(( (BASH_REMATCH[2] + 1) % 16 ))"
  else
    STACK_REDIS_URL="${REDIS_URL%/}/1"
  fi
fi
for tool in psql redis-cli; do
  command -v "$tool" >/dev/null || { echo "!! $tool is missing: the browser tier creates the stack's database with it." >&2; exit 1; }
done

stack_db=${STACK_DATABASE_URL##*/}
psql "${STACK_DATABASE_URL%/*}/postgres" -q -v ON_ERROR_STOP=1 \
  -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"$stack_db\" WITH (FORCE)" \
  -c "CREATE DATABASE \"$stack_db\"" || { echo "!! could not create the stack's database $stack_db" >&2; exit 1; }
redis-cli -u "$STACK_REDIS_URL" flushdb >/dev/null || { echo "!! could not reach Redis at $STACK_REDIS_URL" >&2; exit 1; }

STACK_VAR=$(mktemp -d /tmp/inbox-stack.XXXXXX)
export PROD_VAR=$STACK_VAR PROD_SEED_DEMO=0
export PROD_PORT=${PROD_PORT:-9443} PROD_HTTP_PORT=${PROD_HTTP_PORT:-9080}
export PROD_WEB_PORT=${PROD_WEB_PORT:-9001} PROD_ASGI_PORT=${PROD_ASGI_PORT:-9002} PROD_SANDBOX_PORT=${PROD_SANDBOX_PORT:-9003}
# No demo business: the tests connect the sandbox's pages to businesses of their own.
DATABASE_URL=$STACK_DATABASE_URL REDIS_URL=$STACK_REDIS_URL setsid make prod >"$STACK_VAR/make-prod.out" 2>&1 </dev/null &
stack_pid=$!

stack_stop() {  # make and prod.sh share a process group; prod.sh's trap stops what it started
  kill -TERM -- "-$stack_pid" 2>/dev/null || true
  local until=$((SECONDS + 30))
  while kill -0 -- "-$stack_pid" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.5; done
  kill -KILL -- "-$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
}
stack_logs() {
  echo "-- make prod's output:"; tail -n 40 "$STACK_VAR/make-prod.out"
  for log in "$STACK_VAR"/log/*.log; do [ -e "$log" ] && { echo "-- $log:"; tail -n 20 "$log"; }; done
}
trap stack_stop EXIT

deadline=$((SECONDS + ${STACK_START_TIMEOUT:-300}))
until grep -q '^READY ' "$STACK_VAR/make-prod.out"; do
  if ! kill -0 "$stack_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "!! make prod did not print READY (it exited, or took longer than allowed)." >&2; stack_logs >&2; exit 1
  fi
  sleep 1
done
stack_url=$(grep -m1 '^READY ' "$STACK_VAR/make-prod.out" | awk '{print $2}')
echo "-- make prod is ready at $stack_url"

# The tests create their data in the stack's database with the stack's secrets ($PROD_VAR/prod.env).
DATABASE_URL=$STACK_DATABASE_URL REDIS_URL=$STACK_REDIS_URL E2E_STACK_URL=${stack_url%/} \
  .venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -ne 0 ]; then stack_logs >&2; fi
exit $rc
