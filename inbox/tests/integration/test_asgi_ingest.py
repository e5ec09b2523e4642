"""The production ingest path under faults: webhooks served by the ASGI workers (``deploy/gunicorn_asgi.conf.py``,
``inbox/webhook_asgi.py``), processed by a real Celery worker's drain.

The rest of this tier posts to pytest-django's live server (the Django view); this one runs the
server production runs, in its own process, with its database connections through a proxy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbox.models import WebhookEvent
from inbox.tests.integration.conftest import (
    TcpProxy,
    _kill_group,
    _spawn,
    assert_stored_once,
    broker_url_from_env,
    db_url_via,
    events_settled,
    free_port,
    message_batch,
    port_open,
    post_webhook,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
PSID = "7012345678901234"


@pytest.fixture
def asgi_server(worker_database_url, tmp_path) -> Iterator[tuple[str, TcpProxy]]:
    """The ASGI server as production starts it (gunicorn, deploy/gunicorn_asgi.conf.py), one worker,
    talking to PostgreSQL through a TcpProxy."""
    from django.db import connection

    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    port = free_port(18090)
    log_path = tmp_path / "asgi.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": db_url_via(proxy, worker_database_url),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker_url_from_env(),
        "PYTHONUNBUFFERED": "1",
        "ASGI_BIND": f"127.0.0.1:{port}",
        "ASGI_WORKERS": "1",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn_asgi.conf.py")]
    with log_path.open("ab") as log:
        process = _spawn(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, timeout=30, message="the ASGI server")
        assert process.poll() is None, log_path.read_text()[-3000:]
        yield f"http://127.0.0.1:{port}", proxy
    finally:
        _kill_group(process, graceful=True)
        proxy.close()


def test_database_down_at_the_asgi_endpoint_answers_503_and_retries_store_everything_once(
    page, worker, asgi_server
):
    base_url, proxy = asgi_server
    before, before_mids = message_batch(page_id=page.account_id, psid=PSID, count=2, tag="asgi-before")
    assert post_webhook(base_url, before) == 200
    wait_for(lambda: events_settled(1), message="the drain to apply the first event")
    assert proxy.forwarded >= 1, "the ASGI server does not talk to PostgreSQL through the proxy"

    batches = [message_batch(page_id=page.account_id, psid=PSID, count=3, tag="asgi-down", start=3 * i)
               for i in range(3)]
    proxy.cut()
    statuses = [post_webhook(base_url, body, timeout=15) for body, _ in batches]
    assert statuses == [503] * len(batches)
    assert WebhookEvent.objects.count() == 1

    proxy.restore()
    # Meta retries every delivery; one of them even twice. Each POST is stored, each message once.
    for body, _ in [*batches, batches[0]]:
        wait_for(lambda body=body: post_webhook(base_url, body) == 200, timeout=30,
                 message="the ASGI server to store again once PostgreSQL is back")
    wait_for(lambda: events_settled(1 + len(batches) + 1), timeout=60, message="the drain to apply the retries")
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert_stored_once(account=page, mids=before_mids + [mid for _, mids in batches for mid in mids])
