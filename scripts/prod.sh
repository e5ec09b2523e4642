#!/usr/bin/env bash
# `make prod`: the production stack on one machine, in the foreground; Ctrl-C (or SIGTERM) stops it all.
#
# It runs exactly what deploy/ describes (the Procfile and the systemd units run the same deploy/bin/
# scripts): migrate and collectstatic, then
#   web                gunicorn, WSGI (deploy/gunicorn_wsgi.conf.py)          127.0.0.1:$PROD_WEB_PORT
#   asgi               gunicorn + uvicorn, ASGI (deploy/gunicorn_asgi.conf.py) 127.0.0.1:$PROD_ASGI_PORT
#   worker-live        Celery, queue live (niced)
#   worker-background  Celery, queue celery (niced)
#   beat               Celery beat
#   nginx              TLS on $PROD_PORT (and http on $PROD_HTTP_PORT, redirecting), routing by path
# with DJANGO_SETTINGS_MODULE=config.settings.production. Without a real Meta app (FACEBOOK_APP_ID
# unset, or PROD_SANDBOX=1) it also runs the Messenger sandbox as a separate server (its own settings,
# config.settings.sandbox_server, and its own SQLite database) standing in for Meta, and seeds a demo
# business with a connected sandbox page through the real connect flow.
# Each process logs to $PROD_VAR/log/<name>.log. When everything answers it prints
#   READY https://127.0.0.1:<port>/
# and exits non-zero with a message when a part fails to start or dies.
#
# Environment:
#   DATABASE_URL, REDIS_URL   required (PostgreSQL, Redis)
#   DJANGO_SECRET_KEY, FIELD_ENCRYPTION_KEYS, FACEBOOK_APP_SECRET, FACEBOOK_VERIFY_TOKEN
#                             from the environment; any missing one is generated once into
#                             $PROD_VAR/prod.env (mode 600) and reused by later runs
#   FACEBOOK_APP_ID           a real Meta app (then FACEBOOK_APP_SECRET must be set too); unset = sandbox
#   PROD_SANDBOX=1            use the sandbox even when FACEBOOK_APP_ID is set (0: never)
#   PROD_SEED_DEMO=0          sandbox mode without the demo business (default 1)
#   PROD_PORT=8443            https port of nginx;  PROD_HTTP_PORT=8080  http port (redirects to https)
#   PROD_BIND=127.0.0.1       address nginx listens on (0.0.0.0: every interface)
#   PROD_WEB_PORT=8001 PROD_ASGI_PORT=8002 PROD_SANDBOX_PORT=8003   internal ports (127.0.0.1)
#   PROD_TLS_CERT, PROD_TLS_KEY   certificate and key; default: a self-signed one for 127.0.0.1 and
#                             localhost, generated once into $PROD_VAR/tls/
#   PROD_VAR=var              state directory: prod.env, logs, nginx config and temp files, TLS,
#                             the sandbox's database (SANDBOX_DATABASE_URL overrides that)
#   PROD_NGINX=nginx          the nginx binary (Debian: apt-get install nginx-light)
#   PROD_START_TIMEOUT=90     seconds to wait for everything to answer
#   WEB_WORKERS=3 ASGI_WORKERS=2 LIVE_CONCURRENCY=1 BACKGROUND_CONCURRENCY=2   process counts
#   CELERY_LOG_LEVEL=warning
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

die() { echo "make prod: $*" >&2; exit 1; }

[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set: the production stack needs PostgreSQL, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox REDIS_URL=redis://127.0.0.1:6379/0 make prod"
case "$DATABASE_URL" in postgres://* | postgresql://* | pgsql://*) ;;
  *) die "DATABASE_URL must point at PostgreSQL (the production stack does not run on SQLite)." ;;
esac
[ -n "${REDIS_URL:-}" ] || die "REDIS_URL is not set: the production stack needs Redis (channel layer, cache, Celery broker)."
NGINX=${PROD_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$(command -v "$NGINX")" ] || die "nginx is missing: apt-get install -y nginx-light (it terminates TLS and routes by path)."
command -v openssl >/dev/null 2>&1 || die "openssl is missing (apt-get install -y openssl)."
command -v envsubst >/dev/null 2>&1 || die "envsubst is missing (apt-get install -y gettext-base)."
command -v curl >/dev/null 2>&1 || die "curl is missing (apt-get install -y curl): it checks that the stack answers."

PROD_PORT=${PROD_PORT:-8443}
PROD_HTTP_PORT=${PROD_HTTP_PORT:-8080}
PROD_BIND=${PROD_BIND:-127.0.0.1}
PROD_WEB_PORT=${PROD_WEB_PORT:-8001}
PROD_ASGI_PORT=${PROD_ASGI_PORT:-8002}
PROD_SANDBOX_PORT=${PROD_SANDBOX_PORT:-8003}
PROD_START_TIMEOUT=${PROD_START_TIMEOUT:-90}
VAR=${PROD_VAR:-var}
case "$VAR" in /*) ;; *) VAR=$ROOT/$VAR ;; esac
mkdir -p "$VAR/log" "$VAR/nginx" "$VAR/tls"

SITE="https://127.0.0.1:${PROD_PORT}"
[ "$PROD_PORT" = 443 ] && SITE="https://127.0.0.1"
if [ -n "${PROD_SANDBOX:-}" ]; then SANDBOX_MODE=$PROD_SANDBOX
elif [ -n "${FACEBOOK_APP_ID:-}" ]; then SANDBOX_MODE=0
else SANDBOX_MODE=1; fi
if [ "$SANDBOX_MODE" = 0 ] && [ -z "${FACEBOOK_APP_SECRET:-}" ]; then
  die "FACEBOOK_APP_ID is set but FACEBOOK_APP_SECRET is not: a real Meta app needs its secret (or PROD_SANDBOX=1)."
fi

# --- secrets: the environment's, else generated once into $VAR/prod.env -----------------------------
ENV_FILE=$VAR/prod.env
if [ ! -f "$ENV_FILE" ]; then (umask 077; : >"$ENV_FILE"); fi
chmod 600 "$ENV_FILE"
secret_ensure() {  # NAME python-expression: keep the environment's value, else the file's, else a new one
  local name=$1 expr=$2
  [ -n "${!name:-}" ] && return 0
  local line; line=$(grep -E "^${name}=" "$ENV_FILE" | tail -n 1)
  if [ -z "$line" ]; then
    line="${name}=$($PY -c "import secrets, base64; print($expr)")"
    echo "$line" >>"$ENV_FILE"
  fi
  export "${line?}"
}
secret_ensure DJANGO_SECRET_KEY "secrets.token_urlsafe(50)"
secret_ensure FIELD_ENCRYPTION_KEYS "base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()"
secret_ensure FACEBOOK_APP_SECRET "secrets.token_hex(16)"
secret_ensure FACEBOOK_VERIFY_TOKEN "secrets.token_urlsafe(24)"
secret_ensure METRICS_TOKEN "secrets.token_urlsafe(24)"
# Every process counts into this directory and /metrics adds the counts up: emptied on each start,
# as a boot empties /run in a real deployment (config/metrics.py).
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$VAR/metrics}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" && find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete

# --- the production settings --------------------------------------------------------------------------
export DJANGO_SETTINGS_MODULE=config.settings.production
export SITE_URL=${SITE_URL:-$SITE}
export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}
export MEDIA_ROOT=${MEDIA_ROOT:-$VAR/media}
export WEB_BIND=127.0.0.1:$PROD_WEB_PORT ASGI_BIND=127.0.0.1:$PROD_ASGI_PORT
export BACKGROUND_CONCURRENCY=${BACKGROUND_CONCURRENCY:-2} CELERY_LOG_LEVEL=${CELERY_LOG_LEVEL:-warning}
SANDBOX_URL=http://127.0.0.1:$PROD_SANDBOX_PORT
if [ "$SANDBOX_MODE" = 1 ]; then
  # A trial has no mail server: emails (address verification, invitations) go to web.log.
  export DJANGO_EMAIL_BACKEND=${DJANGO_EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}
  # Meta is the sandbox server: the product reaches it only by these URLs, as it would Meta.
  export FACEBOOK_APP_ID=${FACEBOOK_APP_ID:-100000000000001}
  export FACEBOOK_GRAPH_URL=$SANDBOX_URL/sandbox/graph/${FACEBOOK_GRAPH_VERSION:-v25.0}
  export FACEBOOK_DIALOG_URL=$SANDBOX_URL/sandbox/dialog/oauth
  # Attachments in sandbox webhooks point at the sandbox's CDN, a local http address: production's
  # media fetch policy (https, public addresses only: social/safe_fetch.py) refuses them, so demo
  # attachments show as not downloaded. The policy is kept as it is in production.
fi

# The sandbox server: its own settings and database, never the production ones.
SANDBOX_ENV=(env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL -u MEDIA_FETCH_ALLOWED_ORIGINS
  DJANGO_SETTINGS_MODULE=config.settings.sandbox_server SITE_URL="$SANDBOX_URL"
  SANDBOX_DATABASE_URL="${SANDBOX_DATABASE_URL:-sqlite:///$VAR/sandbox.sqlite3}"
  SANDBOX_WEBHOOK_URL="$SITE/webhooks/facebook/")

# --- processes -------------------------------------------------------------------------------------------
names=() pids=()
stopping=0
stop_all() {
  stopping=1
  local i
  # nginx first (no new requests), the sandbox last; each leader stops its own workers gracefully.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null; done
  local deadline=$((SECONDS + 20))
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    # Each process leads its own group (setsid): a leader still there is killed with its children.
    kill -0 "${pids[$i]}" 2>/dev/null && kill -KILL -- "-${pids[$i]}" 2>/dev/null
  done
  wait 2>/dev/null
}
trap 'echo; echo "Stopping the production stack..."; stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

start() {  # name command...: in its own process group, output to $VAR/log/<name>.log
  local name=$1; shift
  echo "=== $(date -u +%FT%TZ) start: $*" >>"$VAR/log/$name.log"
  setsid "$@" >>"$VAR/log/$name.log" 2>&1 </dev/null &
  names+=("$name"); pids+=($!)
}

check_alive() {  # fail when a started process already exited
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "make prod: ${names[$i]} exited during start-up; the end of $VAR/log/${names[$i]}.log:" >&2
      tail -n 20 "$VAR/log/${names[$i]}.log" >&2
      exit 1
    fi
  done
}

wait_http() {  # description url expected-status...
  local what=$1 url=$2; shift 2
  local deadline=$((SECONDS + PROD_START_TIMEOUT)) code
  while :; do
    check_alive
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$url")
    for expected in "$@"; do [ "$code" = "$expected" ] && return 0; done
    [ $SECONDS -ge $deadline ] && die "$what did not answer at $url within ${PROD_START_TIMEOUT} s (last status $code); see $VAR/log/."
    sleep 0.5
  done
}

port_free() {  # port: refuse to start on a port something else holds
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then die "port $1 is already in use (set $2)."; fi
}
port_free "$PROD_PORT" PROD_PORT; port_free "$PROD_HTTP_PORT" PROD_HTTP_PORT
port_free "$PROD_WEB_PORT" PROD_WEB_PORT; port_free "$PROD_ASGI_PORT" PROD_ASGI_PORT
[ "$SANDBOX_MODE" = 1 ] && port_free "$PROD_SANDBOX_PORT" PROD_SANDBOX_PORT

# --- TLS --------------------------------------------------------------------------------------------------
if [ -n "${PROD_TLS_CERT:-}" ] || [ -n "${PROD_TLS_KEY:-}" ]; then
  [ -r "${PROD_TLS_CERT:-}" ] && [ -r "${PROD_TLS_KEY:-}" ] || die "PROD_TLS_CERT and PROD_TLS_KEY must both name readable files."
  TLS_CERT=$PROD_TLS_CERT TLS_KEY=$PROD_TLS_KEY
else
  TLS_CERT=$VAR/tls/selfsigned.crt TLS_KEY=$VAR/tls/selfsigned.key
  if [ ! -s "$TLS_CERT" ] || [ ! -s "$TLS_KEY" ]; then
    echo "Generating a self-signed certificate for 127.0.0.1 and localhost ($TLS_CERT)..."
    (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$VAR/log/openssl.log") \
      || die "openssl could not create the certificate; see $VAR/log/openssl.log."
  fi
fi

# --- nginx configuration: deploy/nginx/social-inbox.conf.template, rendered into $VAR/nginx/ ---------------
STATIC_ROOT=$($PY -c "import django; django.setup(); from django.conf import settings; print(settings.STATIC_ROOT)") \
  || die "the production settings do not load (see the error above)."
REDIRECT_SUFFIX=":$PROD_PORT"; [ "$PROD_PORT" = 443 ] && REDIRECT_SUFFIX=""
SERVER_NAME="127.0.0.1 localhost" HTTPS_LISTEN="$PROD_BIND:$PROD_PORT" HTTP_LISTEN="$PROD_BIND:$PROD_HTTP_PORT" \
HTTPS_REDIRECT_SUFFIX=$REDIRECT_SUFFIX TLS_CERT=$TLS_CERT TLS_KEY=$TLS_KEY STATIC_ROOT=$STATIC_ROOT \
WEB_UPSTREAM=127.0.0.1:$PROD_WEB_PORT ASGI_UPSTREAM=127.0.0.1:$PROD_ASGI_PORT LOG_DIR=$VAR/log \
  deploy/nginx/render-local "$VAR/nginx" || die "could not render the nginx configuration."
"$NGINX" -t -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -e "$VAR/log/nginx-error.log" >"$VAR/log/nginx-test.log" 2>&1 \
  || { cat "$VAR/log/nginx-test.log" >&2; die "the rendered nginx configuration is invalid ($VAR/nginx/nginx.conf)."; }

# --- database, static files, then the processes --------------------------------------------------------
echo "Migrating and collecting static files (config.settings.production)..."
$PY manage.py migrate --noinput -v0 || die "migrate failed."
$PY manage.py collectstatic --noinput -v0 || die "collectstatic failed."

if [ "$SANDBOX_MODE" = 1 ]; then
  echo "Starting the Messenger sandbox (a fake Meta) at $SANDBOX_URL/sandbox/ ..."
  "${SANDBOX_ENV[@]}" $PY manage.py migrate --noinput -v0 || die "the sandbox's migrate failed."
  "${SANDBOX_ENV[@]}" $PY manage.py sandbox_seed -v0 >/dev/null || die "sandbox_seed failed."
  start sandbox "${SANDBOX_ENV[@]}" "$ROOT/.venv/bin/gunicorn" config.wsgi:application --bind "127.0.0.1:$PROD_SANDBOX_PORT" \
    --worker-class gthread --workers 1 --threads 8 --name social-inbox-sandbox --error-logfile - --no-control-socket
fi
start web deploy/bin/web
start asgi deploy/bin/asgi
start worker-live nice -n 10 deploy/bin/worker-live
start worker-background nice -n 15 deploy/bin/worker-background
start beat deploy/bin/beat
start nginx "$NGINX" -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -e "$VAR/log/nginx-error.log" -g 'daemon off;'

if [ "$SANDBOX_MODE" = 1 ]; then
  wait_http "the sandbox" "$SANDBOX_URL/sandbox/control/config" 200
  # `simulate_customer` as the sandbox server runs it (its settings, its database, the shared app
  # secret that signs webhooks: hence mode 700 in the private $VAR): printed below.
  { echo '#!/bin/sh'; echo "# Written by scripts/prod.sh: the customer simulator of the trial's sandbox server."
    printf 'cd %q && exec' "$ROOT"
    printf ' %q' "${SANDBOX_ENV[@]}" "FACEBOOK_APP_ID=$FACEBOOK_APP_ID" "FACEBOOK_APP_SECRET=$FACEBOOK_APP_SECRET" \
      "$PY" manage.py simulate_customer
    echo ' "$@"'
  } >"$VAR/simulate_customer"
  chmod 700 "$VAR/simulate_customer"
  # The sandbox's webhooks (customer messages, echoes, receipts) go to the proxy, like Meta's.
  curl -s -o /dev/null --max-time 5 -H 'Content-Type: application/json' \
    -d "{\"webhook_url\": \"$SITE/webhooks/facebook/\", \"send_receipts\": true}" "$SANDBOX_URL/sandbox/control/config" \
    || die "could not configure the sandbox's webhook URL."
fi
wait_http "the web workers (through nginx)" "$SITE/accounts/login/" 200
# The webhook endpoint answers a GET without the verify token with 403: the ASGI side is up.
wait_http "the ASGI workers (through nginx)" "$SITE/webhooks/facebook/" 403 400
# Ready as a load balancer would ask: the database, Redis and the broker answer the web workers.
wait_http "the readiness probe" "$SITE/readyz" 200
check_alive

LOGIN_LINE="Log in as                   (create an account: .venv/bin/python manage.py createsuperuser, same environment)"
SIMULATE_LINE=""
if [ "$SANDBOX_MODE" = 1 ] && [ "${PROD_SEED_DEMO:-1}" = 1 ]; then
  echo "Seeding the demo business through the connect flow (sandbox over HTTP)..."
  demo=$($PY scripts/prod_demo.py) || die "seeding the demo failed (see above)."
  echo "$demo"
  if echo "$demo" | grep -q "^conversations: 0$"; then
    send() { "$VAR/simulate_customer" "$@" >>"$VAR/log/demo.log" 2>&1 || die "a demo webhook was refused; see $VAR/log/demo.log."; }
    send --page 104857600123456 --psid 7012345678909012 --text "Thank you, the birthday cake was perfect!"
    send --page 104857600123456 --psid 7012345678905678 --text "Is this cake available for Saturday?"
    send --instagram --page 17841400000000000 --psid 987654321012345 --text "Do you ship pastries to Milan?"
    send --page 104857600123456 --psid 7012345678901234 --text "Hi! Can I pre-order two focacce for Sunday morning?"
  fi
  LOGIN_LINE="Log in as                   demo@example.com  /  demo-password"
  SIMULATE_LINE="  Send yourself a message     ${VAR#"$ROOT"/}/simulate_customer --text \"Hello!\""
fi

cat <<MSG

  Social Inbox (production stack) at ${SITE}/
  ${LOGIN_LINE}
  Certificate                 ${TLS_CERT}$([ -z "${PROD_TLS_CERT:-}" ] && echo "  (self-signed: your browser will ask)")
  Meta                        $([ "$SANDBOX_MODE" = 1 ] && echo "the Messenger sandbox at $SANDBOX_URL/sandbox/" || echo "${FACEBOOK_GRAPH_URL:-graph.facebook.com}")
${SIMULATE_LINE}
  Logs                        $VAR/log/   (web, asgi, worker-live, worker-background, beat, nginx-*)
  Stop                        Ctrl-C

READY ${SITE}/
MSG

# Foreground until Ctrl-C/SIGTERM, or until a process dies (then everything stops, non-zero).
while :; do
  wait -n 2>/dev/null
  [ $stopping = 1 ] && exit 0
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "make prod: ${names[$i]} stopped; stopping the stack. The end of $VAR/log/${names[$i]}.log:" >&2
      tail -n 20 "$VAR/log/${names[$i]}.log" >&2
      exit 1
    fi
  done
done
