"""The documented production stack serves the inbox WebSocket.

The ASGI server is started exactly as the stack starts it (``deploy/bin/asgi``: gunicorn with
uvicorn workers, ``config.settings.production``, Redis channel layer); a logged-in member's
``/ws/inbox/`` upgrade must be accepted (101) and a push to their business must reach the socket,
directly and through nginx rendered from the shipped template (``deploy/nginx/``) with TLS.

Without a WebSocket library uvicorn answers every upgrade ``404`` ("Unsupported upgrade request"):
the handshakes below then fail, which is what production did before `websockets` was installed.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from accounts.services import business_create
from accounts.tests.factories import UserFactory
from inbox.realtime import business_group
from inbox.tests.integration.conftest import (
    _kill_group,
    _spawn,
    broker_url_from_env,
    free_port,
    port_open,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture
def member() -> tuple[int, str]:
    """A business and its owner, logged in: (business id, session cookie header)."""
    user = UserFactory()
    business = business_create(name="Stack Bakery", owner=user)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    return business.pk, f"{cookie.key}={cookie.value}"


def _start(command: list[str], *, env: dict[str, str], port: int, log: Path, what: str) -> subprocess.Popen:
    with log.open("ab") as out:
        process = _spawn(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, timeout=60, message=what)
    except AssertionError:
        _kill_group(process, graceful=False)
        raise
    if process.poll() is not None:
        raise AssertionError(f"{what} exited:\n{log.read_text()[-3000:]}")
    return process


@pytest.fixture
def asgi_port(worker_database_url, tmp_path) -> Iterator[int]:
    """deploy/bin/asgi on the test database and the suite's Redis, with the production settings."""
    port = free_port(18460)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": worker_database_url,
        "REDIS_URL": os.environ["REDIS_URL"],  # the channel layer this test process publishes to
        "CELERY_BROKER_URL": broker_url_from_env(),
        # The test process signed the session: the server must share its secret.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "FACEBOOK_APP_SECRET": settings.FACEBOOK_APP_SECRET,
        "ASGI_BIND": f"127.0.0.1:{port}",
        "ASGI_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("MEDIA_FETCH_ALLOWED_ORIGINS", "FACEBOOK_GRAPH_URL", "FACEBOOK_DIALOG_URL"):
        env.pop(name, None)
    process = _start([str(ROOT / "deploy" / "bin" / "asgi")], env=env, port=port, log=tmp_path / "asgi.log",
                     what="the ASGI server (deploy/bin/asgi)")
    try:
        yield port
    finally:
        _kill_group(process, graceful=True)


@pytest.fixture
def nginx_port(asgi_port, tmp_path) -> Iterator[int]:
    """nginx with deploy/nginx/social-inbox.conf.template, TLS, in front of the ASGI server."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run installs it)")
    https_port, http_port = free_port(18470), free_port(18475)
    conf_dir = tmp_path / "nginx"
    conf_dir.mkdir()
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    render_env = {
        **os.environ,
        "SERVER_NAME": "127.0.0.1 localhost", "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "HTTP_LISTEN": f"127.0.0.1:{http_port}", "HTTPS_REDIRECT_SUFFIX": f":{https_port}",
        "TLS_CERT": str(cert), "TLS_KEY": str(key), "STATIC_ROOT": str(tmp_path / "static"),
        "WEB_UPSTREAM": "127.0.0.1:9", "ASGI_UPSTREAM": f"127.0.0.1:{asgi_port}",
    }
    subprocess.run([str(ROOT / "deploy" / "nginx" / "render-local"), str(conf_dir)], env=render_env, check=True)
    process = _start(
        [NGINX, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-e", str(conf_dir / "nginx-error.log"),
         "-g", "daemon off;"],
        env=dict(os.environ), port=https_port, log=tmp_path / "nginx.log", what="nginx",
    )
    try:
        yield https_port
    finally:
        _kill_group(process, graceful=True)


def _tls_without_verification() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return context


def _open(url: str, *, origin: str, cookie: str | None) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else {}
    context = _tls_without_verification() if url.startswith("wss://") else None
    return connect(url, origin=origin, additional_headers=headers, ssl=context, open_timeout=10)


def _push(business_id: int, html: str) -> None:
    async_to_sync(get_channel_layer().group_send)(business_group(business_id), {"type": "inbox.html", "html": html})


def _assert_push_arrives(socket: ClientConnection, business_id: int, marker: str) -> None:
    _push(business_id, f"<p>{marker}</p>")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = socket.recv(timeout=max(0.1, deadline - time.monotonic()))
        if marker in frame:
            return
    raise AssertionError(f"the push {marker!r} never reached the socket")


def test_the_asgi_server_accepts_a_members_websocket_and_delivers_pushes(asgi_port, member):
    business_id, cookie = member
    with _open(f"ws://127.0.0.1:{asgi_port}/ws/inbox/", origin=f"http://127.0.0.1:{asgi_port}", cookie=cookie) as ws:
        assert ws.response.status_code == 101
        _assert_push_arrives(ws, business_id, "pushed-direct")


def test_the_asgi_server_refuses_an_anonymous_websocket(asgi_port):
    # Accepted upgrades above are the member's, not anyone's: no session, no socket.
    with pytest.raises(InvalidStatus) as refused:
        _open(f"ws://127.0.0.1:{asgi_port}/ws/inbox/", origin=f"http://127.0.0.1:{asgi_port}", cookie=None)
    assert refused.value.response.status_code == 403


def test_an_idle_socket_still_gets_pushes(asgi_port, member):
    # An open inbox is quiet most of the time. channels_redis waits up to 5 s per read (BZPOPMIN)
    # and redis-py 8 gives up on a read after 5 s by default: unless the channel layer's connections
    # get a longer socket_timeout, the consumer dies with a TimeoutError after 5 idle seconds.
    business_id, cookie = member
    with _open(f"ws://127.0.0.1:{asgi_port}/ws/inbox/", origin=f"http://127.0.0.1:{asgi_port}", cookie=cookie) as ws:
        time.sleep(7)
        _assert_push_arrives(ws, business_id, "pushed-after-idle")


def test_nginx_upgrades_websockets_over_tls_to_the_asgi_server(nginx_port, member):
    business_id, cookie = member
    origin = f"https://127.0.0.1:{nginx_port}"
    with _open(f"wss://127.0.0.1:{nginx_port}/ws/inbox/", origin=origin, cookie=cookie) as ws:
        assert ws.response.status_code == 101
        _assert_push_arrives(ws, business_id, "pushed-through-nginx")
