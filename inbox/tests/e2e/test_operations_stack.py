"""The operations endpoints on the production stack as `make prod` starts it (nginx, gunicorn WSGI and ASGI
workers, Celery): probes answer through the proxy, and /metrics adds up what several processes counted.

Only meaningful against the stack (E2E_STACK_URL): skipped in the forked-server mode.
"""

from __future__ import annotations

import re

import pytest
import requests

from inbox.tests.e2e import stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not stack.EXTERNAL, reason="needs the production stack (E2E_STACK_URL)"),
]


def _get(path: str, **kwargs) -> requests.Response:
    return requests.get(f"{stack.STACK_URL}{path}", timeout=10, verify=False, **kwargs)  # the trial stack's certificate is self-signed


def _answers(token: str, status: str) -> float:
    text = _get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    found = re.search(rf'^inbox_webhook_answers_total{{status="{status}"}} ([0-9.e+]+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_probes_and_metrics_through_the_proxy() -> None:
    assert _get("/healthz").json() == {"status": "ok"}
    ready = _get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}

    token = stack.read_env_file(stack.env_file()).get("METRICS_TOKEN", "")
    assert token, "make prod writes METRICS_TOKEN into its env file"
    assert _get("/metrics").status_code == 404
    assert _get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404

    before = _answers(token, "403")
    # A forged webhook, refused by an ASGI worker; the count is read back from a WSGI worker.
    refused = requests.post(
        f"{stack.STACK_URL}/webhooks/facebook/", data=b'{"object": "page", "entry": []}', timeout=10,
        verify=False,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert refused.status_code == 403
    assert _answers(token, "403") == before + 1
    text = _get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'inbox_webhook_events{state="pending"}' in text and "inbox_drain_lag_seconds" in text
