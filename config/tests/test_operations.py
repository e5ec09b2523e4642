"""Operations endpoints: /healthz and /readyz for probes, /metrics for Prometheus (config/health.py, config/metrics.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db.utils import OperationalError

from inbox.models import WebhookEvent
from inbox.tests.helpers import load_fixture, post_webhook

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def _metrics(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", **headers)


# --- probes ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_probes_answer_any_host_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["inbox.example.com"]
    live = client.get("/healthz", HTTP_HOST="10.0.3.7:8001")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = client.get("/readyz", HTTP_HOST="10.0.3.7:8001")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert ready["Cache-Control"] == "no-store"
    # Anything else still meets the host check and the redirect.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.3.7:8001").status_code == 400


def test_liveness_touches_no_dependency(client):
    with mock.patch("config.health.connections") as connections:
        assert client.get("/healthz").status_code == 200
    connections.__getitem__.assert_not_called()


@pytest.mark.django_db
def test_readiness_fails_and_names_the_part_when_the_database_is_down(client):
    with mock.patch("config.health._database", side_effect=OperationalError("connection refused at 10.0.0.9:5432")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["database"] == "unavailable"
    assert "10.0.0.9" not in response.content.decode()  # parts are named, addresses never


@pytest.mark.django_db
def test_readiness_checks_redis_and_the_broker_where_configured(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/1"
    with mock.patch("config.health._broker", side_effect=ConnectionError("refused")) as broker:
        response = client.get("/readyz")
    assert response.status_code == 503
    data = response.json()
    assert data == {"status": "unavailable", "database": "ok", "redis": "unavailable", "broker": "unavailable"}
    broker.assert_called_once()


@pytest.mark.django_db
def test_readiness_with_the_real_redis_when_there_is_one(client, settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (the PostgreSQL + Redis run)")
    settings.REDIS_URL = os.environ["REDIS_URL"]
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["redis"] == "ok"


# --- metrics --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert _metrics(client, token="").status_code == 404
    assert _metrics(client, token=None).status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert _metrics(client, token=None).status_code == 404
    assert _metrics(client, token="not-the-token").status_code == 404


@pytest.mark.django_db
def test_metrics_count_webhook_answers_and_read_the_queue(client, metrics_on, page):
    def answers(status: str) -> float:
        for line in _metrics(client).content.decode().splitlines():
            if line.startswith(f'inbox_webhook_answers_total{{status="{status}"}}'):
                return float(line.split()[-1])
        return 0.0

    stored_before, forged_before = answers("200"), answers("403")
    body = load_fixture("message_text.json")
    assert post_webhook(client, body, run_tasks=False).status_code == 200
    assert post_webhook(client, body, signature="sha256=" + "0" * 64, run_tasks=False).status_code == 403
    assert answers("200") == stored_before + 1
    assert answers("403") == forged_before + 1

    text = _metrics(client).content.decode()
    pending = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING).count()
    assert f'inbox_webhook_events{{state="pending"}} {float(pending)}' in text
    assert 'inbox_webhook_events{state="failed"} 0.0' in text
    assert "inbox_drain_lag_seconds " in text
    assert settings.FACEBOOK_APP_SECRET not in text and TOKEN not in text


def test_metrics_of_several_processes_are_added_up(tmp_path: Path):
    """gunicorn's and Celery's processes each count; the scrape (any process) sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    count = "from config.metrics import webhook_answered, reply_outcome; webhook_answered(200); reply_outcome('sent')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=settings.BASE_DIR)
    scrape = (
        "import django; django.setup();"
        "from prometheus_client import generate_latest; from config import metrics;"
        "from prometheus_client.multiprocess import MultiProcessCollector; from prometheus_client import CollectorRegistry;"
        "r = CollectorRegistry(); MultiProcessCollector(r); print(generate_latest(r).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, cwd=settings.BASE_DIR, capture_output=True, text=True
    ).stdout
    assert 'inbox_webhook_answers_total{status="200"} 2.0' in out
    assert 'inbox_replies_total{outcome="sent"} 2.0' in out


def test_a_reply_task_counts_its_outcome():
    from prometheus_client import REGISTRY

    from inbox import tasks

    def sent() -> float:
        return REGISTRY.get_sample_value("inbox_replies_total", {"outcome": "sent"}) or 0.0

    before = sent()
    with mock.patch("inbox.services.replies.reply_deliver", return_value="sent"):
        assert tasks.message_send.run(1) == "sent"
    assert sent() == before + 1


@pytest.mark.django_db
def test_the_sample_dashboard_reads_only_metrics_that_exist(client, metrics_on):
    import re

    from config.metrics import push_timer, reply_outcome, webhook_answered

    webhook_answered(200)
    reply_outcome("sent")
    with push_timer():
        pass
    exposed = {
        line.split("{")[0].split(" ")[0] for line in _metrics(client).content.decode().splitlines() if line[:1] != "#"
    }
    dashboard = json.loads((Path(settings.BASE_DIR) / "deploy" / "grafana" / "social-inbox.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"inbox_[a-z_]+", target["expr"])
    }
    assert used and used <= exposed, used - exposed
