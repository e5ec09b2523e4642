# Sourced by every deploy/bin/ script: run from the checkout's root, with its virtualenv first on
# PATH when there is one (systemd and Procfile runners start with a bare PATH).
cd "$(dirname "$0")/../.." || exit 1
if [ -x .venv/bin/python ]; then PATH="$PWD/.venv/bin:$PATH"; export PATH; fi
