"""The webhook's ASGI fast path (inbox/webhook_asgi.py): the Django view's answers without Django.

Called through ASGI (asgiref's ApplicationCommunicator), around a stub app or the real
``config.asgi.application``. Tests that store rows need PostgreSQL (the fast path's pool); on SQLite
they are skipped and the Django view serves the webhook (inbox/tests/test_webhooks.py). Rows written
through the pool are outside any test transaction, hence ``transaction=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from unittest import mock

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from inbox.models import WebhookEvent
from inbox.tests.helpers import load_fixture, sign_payload, webhook_url
from inbox.webhook_asgi import WebhookFastPath, connection_kwargs, fast_path_enabled

pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRES = connection.vendor == "postgresql"
needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the fast path stores through a psycopg pool, so it is on only with PostgreSQL (DATABASE_URL); "
    "on SQLite the Django view serves the webhook (test_webhooks.py)",
)
BODY = load_fixture("message_text")


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


async def call(app, method: str = "POST", path: str | None = None, *, body: bytes = b"",
               headers: list[tuple[bytes, bytes]] | None = None, chunks: list[tuple[bytes, bool]] | None = None,
               send_body: bool = True, query: bytes = b"") -> Answer:
    """One HTTP request through ASGI; returns once the app has finished (the drain's wake included)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path or webhook_url(), "raw_path": (path or webhook_url()).encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    if send_body:
        for chunk, more in chunks if chunks is not None else [(body, False)]:
            await communicator.send_input({"type": "http.request", "body": chunk, "more_body": more})
    start = await communicator.receive_output(15)
    assert start["type"] == "http.response.start"
    content = b""
    while True:
        message = await communicator.receive_output(15)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(15)
    return Answer(start["status"], dict(start.get("headers", [])), content)


def signed(body: bytes, **extra: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"x-hub-signature-256", sign_payload(body).encode()), *extra.items()]


class Inner:
    """A stand-in for Django's app: records what reached it and answers 299."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


@pytest.fixture
async def inner():
    return Inner()


@pytest.fixture
async def fast(inner):
    """The fast path forced on (also on SQLite, for answers that never reach the database)."""
    app = WebhookFastPath(inner, enabled=True, acquire_timeout=1.0, db_timeout=3.0)
    yield app
    await app.aclose()


@pytest.fixture
async def asgi_app():
    """The real config.asgi.application; its fast path's pool is closed after the test."""
    from config import asgi

    yield asgi.application
    await asgi.http_app.aclose()


@pytest.fixture
def drain():
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async") as apply_async:
        yield apply_async


async def stored() -> list[WebhookEvent]:
    def rows() -> list[WebhookEvent]:
        try:
            return list(WebhookEvent.objects.order_by("id"))
        finally:
            connection.close()  # this thread's connection would outlive the test database otherwise

    return await sync_to_async(rows)()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- stored and acknowledged ----------------------------------------------------------------------


@needs_postgres
async def test_a_signed_post_is_stored_byte_for_byte_as_a_pending_event_and_wakes_the_drain(asgi_app, drain):
    body = BODY + b"  \n"  # trailing bytes a re-serialisation would lose
    answer = await call(asgi_app, body=body, headers=signed(body))
    assert answer.status == 200
    assert answer.body == b"EVENT_RECEIVED"
    assert answer.headers[b"content-type"] == b"text/plain"
    [event] = await stored()
    assert bytes(event.body) == body
    assert event.signature == sign_payload(body)
    assert event.state == WebhookEvent.State.PENDING
    assert event.attempts == 0 and event.account_ids == [] and event.unroutable_account_ids == []
    assert event.processed_at is None and event.last_error == "" and event.received_at is not None
    assert drain.call_count == 1


@needs_postgres
async def test_the_drain_is_queued_once_per_burst_not_per_webhook(fast, drain):
    for n in range(3):
        body = BODY.replace(b"Un caf", f"Un {n} caf".encode())
        assert (await call(fast, body=body, headers=signed(body))).status == 200
    assert len(await stored()) == 3
    assert drain.call_count == 1  # the flag was set by the first; the drain clears it when it starts
    # The same flag the view and the drain (which clears it) use.
    from inbox.ingest.wake import drain_flag, drain_flag_clear

    flag = drain_flag()
    assert flag is not None
    assert not await flag.aclaim()  # still set by the first webhook
    await sync_to_async(drain_flag_clear)()  # a drain started
    assert (await call(fast, body=BODY, headers=signed(BODY))).status == 200
    assert drain.call_count == 2


@needs_postgres
async def test_a_body_in_several_chunks_is_stored_whole(fast, drain):
    body = BODY
    chunks = [(body[:10], True), (body[10:50], True), (body[50:], False)]
    answer = await call(fast, headers=signed(body)[:1] + signed(body)[2:], chunks=chunks)
    assert answer.status == 200
    [event] = await stored()
    assert bytes(event.body) == body


@needs_postgres
async def test_a_body_meta_signed_is_stored_even_if_it_is_not_json(fast, drain):
    body = b"\x00not json\xff"
    assert (await call(fast, body=body, headers=signed(body))).status == 200
    [event] = await stored()
    assert bytes(event.body) == body


# --- refused: nothing stored ----------------------------------------------------------------------


async def test_no_signature_header_is_403_before_the_body_is_read(fast, inner, caplog):
    answer = await call(fast, headers=[(b"content-length", b"12")], send_body=False)
    assert answer.status == 403
    assert not inner.scopes
    assert "without X-Hub-Signature-256" in caplog.text
    assert await stored() == []


@pytest.mark.parametrize("signature", [b"sha256=" + b"0" * 64, b"sha1=abc", b"garbage", b"sha256=" + b"A" * 64])
async def test_a_wrong_signature_is_403_and_nothing_is_stored(fast, signature, caplog):
    answer = await call(fast, body=BODY, headers=[(b"x-hub-signature-256", signature)])
    assert answer.status == 403
    assert await stored() == []
    assert "invalid signature" in caplog.text
    assert settings.FACEBOOK_APP_SECRET not in caplog.text


async def test_a_body_signed_with_another_secret_is_403(fast):
    from inbox.facebook.signature import compute_signature

    other = compute_signature(BODY, "not-the-app-secret").encode()
    assert (await call(fast, body=BODY, headers=[(b"x-hub-signature-256", other)])).status == 403
    assert await stored() == []


async def test_an_announced_oversized_body_is_413_without_reading_it(fast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    headers = [(b"x-hub-signature-256", sign_payload(b"x" * 101).encode()), (b"content-length", b"101")]
    answer = await call(fast, headers=headers, send_body=False)
    assert answer.status == 413
    assert await stored() == []


async def test_a_streamed_body_growing_past_the_limit_is_413_and_the_rest_is_not_read(fast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    # No Content-Length (chunked): the body is cut off as soon as it passes the limit.
    chunks = [(b"x" * 60, True), (b"x" * 60, True)]  # more_body stays True: the app must not wait for more
    answer = await call(fast, headers=[(b"x-hub-signature-256", sign_payload(b"x" * 120).encode())], chunks=chunks)
    assert answer.status == 413
    assert await stored() == []


# --- the database unavailable ---------------------------------------------------------------------


@needs_postgres
async def test_an_unreachable_database_is_503_with_retry_after(inner, drain, caplog):
    database = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": str(closed_port())}
    app = WebhookFastPath(inner, enabled=True, database=database, acquire_timeout=1.0, db_timeout=3.0)
    try:
        answer = await call(app, body=BODY, headers=signed(BODY))
    finally:
        await app.aclose()
    assert answer.status == 503
    assert answer.headers[b"retry-after"] == b"5"
    assert await stored() == []
    assert drain.call_count == 0
    assert "answering 503 so Meta retries" in caplog.text


class HangingProxy:
    """A TCP proxy to PostgreSQL that can stop answering (a hung database host)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.hung = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        self.writers.append(writer)
        if self.hung.is_set():
            return  # accepted, never answered
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers.append(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader, writer) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if self.hung.is_set():
                    return  # swallowed: the query never reaches the server, no answer comes back
                writer.write(data)
                await writer.drain()

    async def close(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()


@needs_postgres
async def test_a_hung_database_is_answered_503_not_a_hanging_request(inner, drain):
    real = settings.DATABASES["default"]
    proxy = HangingProxy(real.get("HOST") or "127.0.0.1", int(real.get("PORT") or 5432))
    port = await proxy.start()
    app = WebhookFastPath(inner, enabled=True, database={**real, "HOST": "127.0.0.1", "PORT": str(port)},
                          min_size=1, max_size=1, acquire_timeout=1.0, db_timeout=1.5)
    hung_body = BODY.replace(b"Un caf", b"Hung caf")
    try:
        assert (await call(app, body=BODY, headers=signed(BODY))).status == 200  # a pooled connection exists
        proxy.hung.set()
        communicator = ApplicationCommunicator(app, {
            "type": "http", "method": "POST", "path": webhook_url(), "scheme": "http", "query_string": b"",
            "headers": [(b"host", b"testserver"), *signed(hung_body)],
        })
        await communicator.send_input({"type": "http.request", "body": hung_body})
        # Answered while the INSERT still hangs: the request does not wait for the database to give up.
        start = await communicator.receive_output(10)
        assert start["status"] == 503
        assert dict(start["headers"])[b"retry-after"] == b"5"
        await proxy.close()  # the hung connection breaks; its cancelled query ends in the background
        await communicator.wait(20)
    finally:
        await proxy.close()
        await app.aclose()
    assert [bytes(event.body) for event in await stored()] == [BODY]


# --- routing: everything else reaches Django ------------------------------------------------------


async def test_the_get_handshake_is_answered_through_the_real_app(asgi_app):
    query = f"hub.mode=subscribe&hub.verify_token={settings.FACEBOOK_VERIFY_TOKEN}&hub.challenge=1158201444"
    answer = await call(asgi_app, "GET", query=query.encode())
    assert answer.status == 200
    assert answer.body == b"1158201444"


async def test_the_adapter_answers_the_get_handshake_as_the_view_does(fast, inner, client):
    token = settings.FACEBOOK_VERIFY_TOKEN
    cases = [
        f"hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        f"hub.mode=unsubscribe&hub.verify_token={token}&hub.challenge=1",
        "hub.challenge=1",
        f"hub.mode=subscribe&hub.verify_token=x&hub.verify_token={token}&hub.challenge=%C3%A9t%C3%A9",  # the last wins
    ]
    for query in cases:
        answer = await call(fast, "GET", query=query.encode())
        view = await sync_to_async(client.get)(webhook_url() + "?" + query)
        assert (answer.status, answer.body) == (view.status_code, view.content), query
        assert answer.headers[b"content-type"] == view["Content-Type"].encode(), query
    assert inner.scopes == []  # Django never saw them
    assert await stored() == []


@needs_postgres
def test_an_asgi_worker_answers_webhooks_without_loading_the_urlconf():
    """The URLconf imports every view and the API (~17 MiB): an ASGI worker serving the webhook and
    sockets never needs it. Run in a fresh process, as a worker starts."""
    import os
    import subprocess
    import sys

    code = """
import asyncio, sys
import config.asgi
from asgiref.testing import ApplicationCommunicator

async def request(method, query=b""):
    scope = {"type": "http", "method": method, "path": "/webhooks/facebook/", "scheme": "https",
             "query_string": query, "headers": [(b"host", b"localhost"), (b"x-forwarded-proto", b"https")]}
    communicator = ApplicationCommunicator(config.asgi.application, scope)
    await communicator.send_input({"type": "http.request", "body": b"{}"})
    start = await communicator.receive_output(10)
    await communicator.wait(10)
    return start["status"]

async def main():
    statuses = [await request("GET", b"hub.mode=subscribe&hub.verify_token=x&hub.challenge=1"), await request("POST")]
    print(statuses, sorted(m for m in ("config.urls", "api.api", "ninja") if m in sys.modules))

asyncio.run(main())
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[403, 403] []", result.stdout + result.stderr[-3000:]


async def test_other_methods_and_paths_pass_through_unchanged(fast, inner):
    for method, path in (("HEAD", webhook_url()), ("PUT", webhook_url()), ("POST", "/webhooks/facebook"),
                         ("POST", "/accounts/login/"), ("POST", webhook_url() + "x")):
        answer = await call(fast, method, path, body=BODY, headers=signed(BODY))
        assert answer.status == 299, (method, path)
    assert [(s["method"], s["path"]) for s in inner.scopes][-1] == ("POST", webhook_url() + "x")
    assert len(inner.scopes) == 5
    assert await stored() == []


async def test_websocket_and_lifespan_scopes_pass_through(fast, inner):
    for scope_type in ("websocket", "lifespan"):
        scope = {"type": scope_type, "path": webhook_url(), "headers": []}
        await fast(scope, None, None)
    assert [s["type"] for s in inner.scopes] == ["websocket", "lifespan"]


async def test_a_disallowed_host_is_400_as_django_answers(fast):
    headers = signed(BODY)
    scope_headers = [(b"host", b"evil.example")]
    communicator = ApplicationCommunicator(fast, {
        "type": "http", "method": "POST", "path": webhook_url(), "scheme": "http", "query_string": b"",
        "headers": scope_headers + headers,
    })
    await communicator.send_input({"type": "http.request", "body": BODY})
    start = await communicator.receive_output(5)
    assert start["status"] == 400
    assert await stored() == []


# --- on only with PostgreSQL, and off by the setting ----------------------------------------------


@pytest.mark.skipif(ON_POSTGRES, reason="checks the embedded default (SQLite)")
async def test_on_sqlite_the_fast_path_is_off_and_the_django_view_answers(asgi_app, inner):
    assert not fast_path_enabled()
    app = WebhookFastPath(inner)
    assert (await call(app, body=BODY, headers=signed(BODY))).status == 299
    # Through the real app the Django view answers (403: no header), not the fast path.
    answer = await call(asgi_app, body=BODY)
    assert answer.status == 403


@needs_postgres
async def test_the_setting_turns_it_off(settings, inner):
    assert fast_path_enabled()
    settings.INBOX_WEBHOOK_FAST_PATH = False
    assert not fast_path_enabled()
    assert (await call(WebhookFastPath(inner), body=BODY, headers=signed(BODY))).status == 299
    assert await stored() == []


def test_connection_keywords_come_from_the_database_setting():
    kwargs = connection_kwargs({
        "NAME": "inbox", "USER": "u", "PASSWORD": "p", "HOST": "db", "PORT": 6432,
        "OPTIONS": {"connect_timeout": 7, "sslmode": "require", "pool": {"min_size": 2}, "options": "-c x=1"},
    })
    assert kwargs["dbname"] == "inbox" and kwargs["user"] == "u" and kwargs["password"] == "p"
    assert kwargs["host"] == "db" and kwargs["port"] == "6432"
    assert kwargs["connect_timeout"] == 7 and kwargs["sslmode"] == "require" and kwargs["options"] == "-c x=1"
    assert "pool" not in kwargs and kwargs["autocommit"] is True


# --- fuzzed -----------------------------------------------------------------------------------------


@needs_postgres
@given(body=st.binary(max_size=4096), signed_by_meta=st.booleans())
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_body_is_stored_byte_for_byte_when_signed_and_refused_when_not_never_a_500(drain, body, signed_by_meta):
    async def post() -> Answer:
        app = WebhookFastPath(Inner(), enabled=True)
        try:
            forged = [(b"x-hub-signature-256", b"sha256=" + b"0" * 64)]
            return await call(app, body=body, headers=signed(body) if signed_by_meta else forged)
        finally:
            await app.aclose()

    before = WebhookEvent.objects.count()
    answer = async_to_sync(post)()
    if signed_by_meta:
        assert answer.status == 200
        assert bytes(WebhookEvent.objects.latest("id").body) == body
        assert WebhookEvent.objects.count() == before + 1
    else:
        assert answer.status == 403
        assert WebhookEvent.objects.count() == before
