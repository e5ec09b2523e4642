"""`manage.py runserver` on any port: the sandbox URLs follow the served address, `simulate_customer`
finds the server, and the demo login works (config/served_url.py, sandbox/management/commands/runserver.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands
from django.urls import reverse

from config import inprocess_tasks
from config.served_url import (
    apply_served_url,
    current_urls,
    forget_served_url,
    record_served_url,
    recorded_served_url,
    served_url,
)
from inbox.models import ChatMessage
from sandbox.management.commands.runserver import Command as RunserverCommand
from social.tests.factories import SocialAccountFactory

URL_NAMES = ("SITE_URL", "FACEBOOK_GRAPH_URL", "FACEBOOK_DIALOG_URL", "SANDBOX_WEBHOOK_URL")


@pytest.fixture(autouse=True)
def _records_in_tmp(settings, tmp_path):
    """Records go under a temporary BASE_DIR, never into the project's var/."""
    settings.BASE_DIR = tmp_path
    settings.SANDBOX_EXPLICIT_URLS = []


@pytest.mark.parametrize(("addr", "port", "expected"), [
    ("127.0.0.1", "8123", "http://127.0.0.1:8123"),
    ("0.0.0.0", "18601", "http://127.0.0.1:18601"),
    ("localhost", 9000, "http://localhost:9000"),
    ("::", "9000", "http://[::1]:9000"),
    ("::1", "9000", "http://[::1]:9000"),
])
def test_the_served_url_is_one_this_machine_can_reach(addr, port, expected):
    assert served_url(addr, port) == expected


def test_every_sandbox_url_follows_the_served_address(settings):
    settings.MEDIA_FETCH_LOCAL_ORIGINS = ["http://127.0.0.1:8000"]
    changed = apply_served_url("http://127.0.0.1:18642")
    assert set(changed) == set(URL_NAMES)
    assert settings.SITE_URL == "http://127.0.0.1:18642"
    graph_url, version = settings.FACEBOOK_GRAPH_URL, settings.FACEBOOK_GRAPH_VERSION
    assert graph_url == f"http://127.0.0.1:18642/sandbox/graph/{version}"
    assert settings.FACEBOOK_DIALOG_URL == "http://127.0.0.1:18642/sandbox/dialog/oauth"
    assert settings.SANDBOX_WEBHOOK_URL == "http://127.0.0.1:18642/webhooks/facebook/"
    assert settings.MEDIA_FETCH_LOCAL_ORIGINS == ["http://127.0.0.1:18642"]  # not the port-8000 default any more
    facebook = settings.SOCIALACCOUNT_PROVIDERS["facebook"]
    assert facebook["GRAPH_API_URL"] == settings.FACEBOOK_GRAPH_URL
    assert facebook["AUTHORIZE_URL"] == settings.FACEBOOK_DIALOG_URL


def test_the_graph_client_and_the_sandbox_receipts_read_the_derived_urls(settings):
    from social.graph import graph_url

    apply_served_url("http://127.0.0.1:18643")
    assert graph_url().startswith("http://127.0.0.1:18643/sandbox/graph/")


def test_an_explicit_site_url_is_kept_with_everything_derived_from_it(settings):
    settings.SANDBOX_EXPLICIT_URLS = ["SITE_URL"]
    before = {name: getattr(settings, name) for name in URL_NAMES}
    assert apply_served_url("http://127.0.0.1:18644") == {}
    assert {name: getattr(settings, name) for name in URL_NAMES} == before


def test_an_explicit_webhook_url_is_kept_and_the_rest_follows(settings):
    settings.SANDBOX_EXPLICIT_URLS = ["SANDBOX_WEBHOOK_URL"]
    settings.SANDBOX_WEBHOOK_URL = "https://tunnel.example.com/webhooks/facebook/"
    apply_served_url("http://127.0.0.1:18645")
    assert settings.SANDBOX_WEBHOOK_URL == "https://tunnel.example.com/webhooks/facebook/"
    assert settings.SITE_URL == "http://127.0.0.1:18645"


def test_the_record_is_per_database_and_ignored_once_its_server_is_gone(monkeypatch):
    assert recorded_served_url() is None
    path = record_served_url("http://127.0.0.1:18646")
    assert recorded_served_url() == "http://127.0.0.1:18646"
    assert current_urls()["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:18646/webhooks/facebook/"

    with monkeypatch.context() as patch:  # a process on another database has no server of its own
        patch.setitem(settings.DATABASES["default"], "NAME", "another.sqlite3")
        assert recorded_served_url() is None

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    path.write_text(json.dumps({"url": "http://127.0.0.1:18647", "pid": int(gone.stdout)}))
    assert recorded_served_url() is None  # a dead server's record (killed before it could remove it)


def test_a_server_removes_only_its_own_record():
    path = record_served_url("http://127.0.0.1:18648")
    path.write_text(json.dumps({"url": "http://127.0.0.1:18649", "pid": 1}))  # another server took over
    forget_served_url()
    assert path.exists()
    record_served_url("http://127.0.0.1:18648")
    forget_served_url()
    assert not path.exists()


def test_runserver_is_the_sandbox_one():
    assert get_commands()["runserver"] == "sandbox"


@pytest.fixture
def serving(monkeypatch):
    """Runs the command's inner_run with daphne's replaced by a probe of the state while serving."""
    seen: dict = {}
    wakes: list = []

    def serve(self, *args, **options):
        seen.update(
            site_url=settings.SITE_URL, webhook_url=settings.SANDBOX_WEBHOOK_URL, recorded=recorded_served_url(),
            runner=inprocess_tasks.current_runner(),
        )

    monkeypatch.setattr("daphne.management.commands.runserver.Command.inner_run", serve)
    monkeypatch.setattr("inbox.ingest.wake.webhook_events_wake", lambda **kw: wakes.append(kw))
    command = RunserverCommand(stdout=io.StringIO(), stderr=io.StringIO())
    command.addr, command.port, command.protocol, command._raw_ipv6 = "0.0.0.0", "18650", "http", False
    yield command, seen, wakes
    inprocess_tasks.runner_stop()


def test_runserver_serves_with_the_urls_of_its_port_and_tasks_on_threads(serving, settings):
    command, seen, wakes = serving
    settings.TASKS_IN_BACKGROUND_THREAD = True
    command.inner_run(use_reloader=False)
    assert seen["site_url"] == "http://127.0.0.1:18650"
    assert seen["webhook_url"] == "http://127.0.0.1:18650/webhooks/facebook/"
    assert seen["recorded"] == "http://127.0.0.1:18650"
    assert seen["runner"] is not None
    assert wakes == [{"force": True}]  # what the last run left pending is applied now
    # Stopped: the runner is gone and the record removed.
    assert inprocess_tasks.current_runner() is None
    assert recorded_served_url() is None


def test_runserver_keeps_tasks_eager_without_the_setting(serving, settings):
    command, seen, wakes = serving
    settings.TASKS_IN_BACKGROUND_THREAD = False
    command.inner_run(use_reloader=False)
    assert seen["runner"] is None and wakes == []
    assert seen["site_url"] == "http://127.0.0.1:18650"


@pytest.mark.django_db(transaction=True)
def test_simulate_customer_finds_the_running_server_without_a_url(live_server, settings):
    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/webhooks/facebook/"  # the port-8000 kind of default
    record_served_url(live_server.url)
    page = SocialAccountFactory(account_id="104857600123456")
    out = io.StringIO()
    call_command("simulate_customer", "--text", "Found you", stdout=out, stderr=io.StringIO())
    assert f"to {live_server.url}/webhooks/facebook/" in out.getvalue()
    assert ChatMessage.objects.get(account=page).content == "Found you"


@pytest.mark.django_db(transaction=True)
def test_an_explicit_site_url_wins_over_the_running_server(live_server, settings):
    settings.SANDBOX_EXPLICIT_URLS = ["SITE_URL"]
    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/webhooks/facebook/"
    record_served_url(live_server.url)
    SocialAccountFactory(account_id="104857600123456")
    with pytest.raises(CommandError, match="not answered 200"):
        call_command("simulate_customer", "--timeout", "2", stdout=io.StringIO(), stderr=io.StringIO())
    assert not ChatMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_demo_user_signs_in_through_the_form_with_mandatory_verification(client, settings):
    settings.FACEBOOK_GRAPH_URL = "http://127.0.0.1:8000/sandbox/graph/v25.0"
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    call_command("seed_demo", stdout=io.StringIO())
    address = EmailAddress.objects.get(email="demo@example.com")
    assert address.verified and address.primary
    address.delete()  # demo data seeded before verification was mandatory
    call_command("seed_demo", stdout=io.StringIO())
    assert EmailAddress.objects.get(email="demo@example.com").verified

    response = client.post(reverse("account_login"), {"login": "demo@example.com", "password": "demo-password"})
    assert response.status_code == 302
    assert "confirm-email" not in response["Location"] and "/accounts/" not in response["Location"]
