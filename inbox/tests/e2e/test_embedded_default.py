"""The embedded default in Chromium, served as the README says: `manage.py runserver` on any port.

A subprocess runs `migrate`, `seed_demo` and `manage.py runserver 127.0.0.1:<free port, not 8000>`
with config.settings.local on a SQLite file of its own (no broker: Celery tasks run on the server's
background threads, config/inprocess_tasks.py). Nothing is set up with the ORM: the demo user signs
in through the login form, the customer writes with `simulate_customer` (which finds the server's
port itself), and the server's database is only read, with sqlite3, to check what was applied.

Run alone (Playwright + Debian's Chromium):
    .venv/bin/python -m pytest -m e2e_embedded inbox/tests/e2e/test_embedded_default.py -p no:cacheprovider
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings

from inbox.models import ChatMessage, Contact, WebhookEvent
from sandbox import payloads

pytestmark = [pytest.mark.e2e_embedded, pytest.mark.timeout(300)]

ROOT = Path(settings.BASE_DIR)
PAGE_ID = "104857600123456"  # the demo's Bakery Rossi page
DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo-password"
APP_SECRET = "sandbox-app-secret"  # the development default of config/settings/sandbox.py
TIMEOUT_MS = 15_000
# A developer's shell may carry settings that would make the server something else than the default.
DROPPED_ENV = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "SITE_URL", "FACEBOOK_", "SANDBOX_",
               "TASKS_IN_BACKGROUND_THREAD", "MEDIA_ROOT", "INBOX_")


@dataclass
class Server:
    url: str
    env: dict[str, str]
    db_path: Path
    log_path: Path

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the server's database (WAL: never in the way of its writers)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)) as db:
            return db.execute(sql, params).fetchall()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    for port in random.sample(range(18600, 18700), 100):
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    folder = tmp_path_factory.mktemp("embedded-default")
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED_ENV)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
               MEDIA_ROOT=str(folder / "media"), PYTHONUNBUFFERED="1")
    port = _free_port()
    assert port != 8000
    server = Server(url=f"http://127.0.0.1:{port}", env=env, db_path=folder / "db.sqlite3",
                    log_path=folder / "runserver.log")
    for command in (("migrate", "--noinput", "-v0"), ("seed_demo",)):
        result = server.manage(*command, timeout=240)
        assert result.returncode == 0, f"manage.py {' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"runserver exited:\n{server.log()}"
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{server.url}/accounts/login/", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"runserver did not answer within 60 s:\n{server.log()}"
            time.sleep(0.3)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture
def staff_page(browser, server):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def _sign_in(page) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", DEMO_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/accounts/" not in page.url, f"sign-in failed: {page.url}"


def _wait_for(predicate, *, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_customer_message_arrives_live_and_the_reply_gets_its_ticks(server, staff_page):
    from playwright.sync_api import expect

    page = staff_page
    _sign_in(page)
    page.goto("/inbox/")
    page.wait_for_selector("body[data-ws='open']", state="attached")

    # The customer writes; the simulator finds the server's port itself (no --url, no SITE_URL).
    result = server.manage("simulate_customer", "--psid", "7000000000000555", "--text", "Ciao! Any focaccia left?")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"to {server.url}/webhooks/facebook/" in result.stdout
    row = page.locator("#conversation-list > li", has_text="Any focaccia left?")
    expect(row).to_be_visible()  # pushed to the open page, no reload

    row.locator("a").click()
    composer = page.locator("textarea[id^=reply-text-]")
    composer.fill("Yes, two are still warm!")
    composer.press("Enter")
    reply = page.locator("article.msg-outbound", has_text="two are still warm")
    expect(reply).to_be_visible()
    # The send ran on a task thread against the sandbox on this same port; its receipts came back.
    expect(reply.locator(".tick-delivered, .tick-read")).to_be_visible()
    expect(reply.locator(".tick-read")).to_be_visible()
    table = ChatMessage._meta.db_table
    assert server.query(f"SELECT status FROM {table} WHERE content = ?", "Yes, two are still warm!") == [("read",)]
    assert page.errors == [], page.errors


def test_a_500_event_batch_is_acknowledged_at_once_and_applied_right_after(server, staff_page):
    from playwright.sync_api import expect

    page = staff_page
    _sign_in(page)
    page.goto("/inbox/")
    page.wait_for_selector("body[data-ws='open']", state="attached")
    # 500 new customers: each one queues a profile lookup, none of which may hold the answer.
    clock = payloads.now_ms()
    items = [payloads.text_message(page_id=PAGE_ID, psid=f"77000000{n:08d}", text=f"Batch message {n}",
                                   timestamp_ms=clock + n) for n in range(500)]
    body = payloads.encode(payloads.envelope(object_type="page", entries=[
        payloads.entry(account_id=PAGE_ID, events=items)]))
    headers = {"Content-Type": "application/json", payloads.SIGNATURE_HEADER: payloads.sign(body, APP_SECRET)}
    started = time.monotonic()
    response = requests.post(f"{server.url}/webhooks/facebook/", data=body, headers=headers, timeout=30)
    acknowledged = time.monotonic() - started
    assert response.status_code == 200
    assert acknowledged < 10, f"the batch took {acknowledged:.1f} s to acknowledge (Meta gives up at 20 s)"

    # More customers write while the batch is applied: the request and task threads write at once.
    for n in range(5):
        single = payloads.encode(payloads.envelope(object_type="page", entries=[payloads.entry(
            account_id=PAGE_ID, events=[payloads.text_message(page_id=PAGE_ID, psid=f"78000000{n:08d}",
                                                              text=f"Meanwhile {n}")])]))
        answer = requests.post(f"{server.url}/webhooks/facebook/", data=single, timeout=30, headers={
            "Content-Type": "application/json", payloads.SIGNATURE_HEADER: payloads.sign(single, APP_SECRET)})
        assert answer.status_code == 200

    messages, events = ChatMessage._meta.db_table, WebhookEvent._meta.db_table
    batch_sql = f"SELECT COUNT(*) FROM {messages} WHERE content LIKE 'Batch message %' OR content LIKE 'Meanwhile %'"
    _wait_for(lambda: server.query(batch_sql)[0][0] == 505, seconds=60, what="applying the batch")
    _wait_for(lambda: not server.query(f"SELECT 1 FROM {events} WHERE state = 'pending'"), seconds=30,
              what="no event left pending")
    assert {state for (state,) in server.query(f"SELECT DISTINCT state FROM {events}")} == {"processed"}
    expect(page.locator("#conversation-list")).to_contain_text(re.compile(r"Batch message|Meanwhile"))
    # The profile lookups run after the answers, on their own threads; they finish in their time.
    contacts = Contact._meta.db_table
    assert server.query(f"SELECT COUNT(*) FROM {contacts} WHERE external_id LIKE '77000000%'") == [(500,)]
    assert "database is locked" not in server.log()
