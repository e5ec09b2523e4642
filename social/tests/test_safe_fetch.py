"""Fetching untrusted media URLs: allowed origins only, public addresses only, bounded in hops, size and time.

No test leaves this machine: a local HTTP server on 127.0.0.1 plays the sandbox origin (the one
origin allowed a local address) and serves redirects and slow bodies; public names are made to
resolve to private addresses by replacing ``socket.getaddrinfo``, and are refused before any
connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from social import safe_fetch
from social.safe_fetch import MAX_REDIRECTS, FetchRefused, Origin, PublicAddressAdapter, address_refusal, fetch

PUBLIC_NAME = "media.cdn.test"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/ok":
            self._answer(200, b"\x89PNG fine", "image/png")
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path.startswith("/chain/"):
            left = int(url.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/chain/{left - 1}" if left else "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/drip":
            # Headers at once, then one byte every 50 ms: each read is quick, the whole never ends.
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(200):  # bounded: 10 s at most
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        elif url.path == "/big":
            self.send_response(200)
            self.end_headers()  # no Content-Length: only counting while reading can stop it
            try:
                for _ in range(40):
                    self.wfile.write(b"y" * 10_000)
            except OSError:
                return
        elif url.path == "/big-declared":
            self._answer(200, b"z" * 2_000, "application/octet-stream", length="999999999")
        elif url.path == "/missing":
            self._answer(404, b"no", "text/plain")
        else:
            self._answer(300, b"", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str, length: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", length or str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have hung up already
            self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def origins(settings, server):
    """Production's Meta hosts, a public test name, and the local server as the (sandbox) local origin."""
    settings.MEDIA_FETCH_ALLOWED_ORIGINS = [
        "https://*.fbcdn.net", "https://lookaside.fbsbx.com", f"http://{PUBLIC_NAME}", f"https://{PUBLIC_NAME}",
    ]
    settings.MEDIA_FETCH_LOCAL_ORIGINS = [server]
    settings.MEDIA_FETCH_TOTAL_SECONDS = 20
    return settings


@pytest.fixture
def resolve(monkeypatch):
    """Make PUBLIC_NAME resolve to the address given; every other name resolves as usual."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def set_address(address: str) -> list[str]:
        def getaddrinfo(host, port, *args, **kwargs):
            if host != PUBLIC_NAME:
                return real(host, port, *args, **kwargs)
            lookups.append(host)
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 443, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return set_address


# --- origins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/a.png",
        "http://scontent.xx.fbcdn.net/a.png",  # http, where only https is allowed
        "https://fbcdn.net/a.png",  # "*." is subdomains only
        "https://evilfbcdn.net/a.png",
        "https://scontent.xx.fbcdn.net.evil.example/a.png",
        "https://scontent.xx.fbcdn.net:8443/a.png",
        "https://platform-lookaside.fbsbx.com/a.png",  # only lookaside.fbsbx.com is listed here
        "https://user:secret@scontent.xx.fbcdn.net/a.png",
        "http://127.0.0.1:8000/sandbox/cdn/a.png",  # this machine, but not the allowed local origin
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "ftp://scontent.xx.fbcdn.net/a.png",
        "https://evil.example#@scontent.xx.fbcdn.net/a.png",
        "https://scontent.xx.fbcdn.net%2f@evil.example/a.png",
        "https://evil.example\\.fbcdn.net/a.png",
        "https://[::1",
    ],
)
def test_a_url_outside_the_allowed_origins_is_refused_without_a_request(origins, url, monkeypatch):
    sent = []
    monkeypatch.setattr(requests.Session, "send", lambda *args, **kwargs: sent.append(args))
    with pytest.raises(FetchRefused) as caught:
        fetch(url, max_bytes=1000)
    assert caught.value.reason
    assert sent == []


def test_origin_patterns():
    cdn = Origin.parse("https://*.fbcdn.net")
    assert cdn.matches(Origin("https", "scontent.xx.fbcdn.net", 443))
    assert cdn.matches(Origin("https", "scontent-mxp1-1.xx.fbcdn.net", 443))
    assert not cdn.matches(Origin("https", "fbcdn.net", 443))
    assert not cdn.matches(Origin("https", "xfbcdn.net", 443))
    assert not cdn.matches(Origin("http", "scontent.xx.fbcdn.net", 80))
    assert Origin.parse("http://127.0.0.1:8000") == Origin("http", "127.0.0.1", 8000)
    assert str(Origin.parse("HTTPS://Lookaside.FBSBX.com:443")) == "https://lookaside.fbsbx.com"
    for bad in ("scontent.xx.fbcdn.net", "ftp://a.example", "https://a.example/path", "https://u:p@a.example"):
        with pytest.raises(ValueError, match="Not an origin"):
            Origin.parse(bad)


# --- addresses after DNS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "127.0.0.1", "::1", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1",
                "100.64.0.1", "fd00::1", "fe80::1", "4000::1", "fec0::1"],
)
def test_an_allowed_name_that_resolves_to_a_non_public_address_is_refused(origins, resolve, address, monkeypatch):
    lookups = resolve(address)
    connections = []
    monkeypatch.setattr(socket.socket, "connect", lambda *args: connections.append(args))
    with pytest.raises(FetchRefused, match=f"{PUBLIC_NAME} resolves to .*address"):
        fetch(f"https://{PUBLIC_NAME}/photo.jpg", max_bytes=1000)
    assert lookups == [PUBLIC_NAME]
    assert connections == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [("127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("169.254.169.254", "link-local"),
     ("::", "unspecified"), ("ff02::1", "multicast"), ("4000::1", "reserved"), ("100.64.0.1", "non-public")],
)
def test_address_rules(address, kind):
    assert kind in address_refusal(address)


def test_public_addresses_pass():
    assert address_refusal("157.240.1.1") is None  # Meta's
    assert address_refusal("2a03:2880:f003:c07:face:b00c::2") is None
    assert address_refusal("[2a03:2880:f003:c07:face:b00c::2]") is None


def test_the_checked_address_is_the_one_connected_to(origins, resolve):
    # A rebinding DNS answers a public address to the check and a private one afterwards: the
    # adapter resolves once and connects to the address it checked, naming the host for TLS.
    answers = iter(["157.240.1.1", "127.0.0.1"])
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != PUBLIC_NAME:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port or 443))]

    socket.getaddrinfo, saved = rebinding, socket.getaddrinfo
    try:
        adapter = PublicAddressAdapter(is_https_proto=True)
        prepared = requests.Request("GET", f"https://{PUBLIC_NAME}/photo.jpg").prepare()
        host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True)
    finally:
        socket.getaddrinfo = saved
    assert host_params["host"] == "157.240.1.1"
    assert prepared.headers["Host"] == PUBLIC_NAME
    assert pool_kwargs["server_hostname"] == PUBLIC_NAME and pool_kwargs["assert_hostname"] == PUBLIC_NAME
    assert lookups == [PUBLIC_NAME]


# --- redirects ------------------------------------------------------------------------------------


def test_the_allowed_local_origin_is_fetched(origins, server):
    fetched = fetch(f"{server}/ok", max_bytes=1000)
    assert (fetched.status, fetched.content, fetched.content_type) == (200, b"\x89PNG fine", "image/png")


def test_an_error_status_is_returned_for_the_caller_to_judge(origins, server):
    fetched = fetch(f"{server}/missing", max_bytes=1000)
    assert fetched.status == 404 and fetched.content == b""


def test_redirects_are_followed_up_to_the_limit(origins, server):
    assert fetch(f"{server}/chain/{MAX_REDIRECTS - 1}", max_bytes=1000).content == b"\x89PNG fine"
    with pytest.raises(FetchRefused, match="redirected more than"):
        fetch(f"{server}/chain/{MAX_REDIRECTS}", max_bytes=1000)


def test_a_redirect_to_a_private_address_is_refused(origins, server, resolve):
    lookups = resolve("10.0.0.1")
    with pytest.raises(FetchRefused, match="resolves to a private address"):
        fetch(f"{server}/redirect?to=http://{PUBLIC_NAME}/internal", max_bytes=1000)
    assert lookups == [PUBLIC_NAME]


@pytest.mark.parametrize(
    "target",
    ["http://localhost:{port}/ok", "http://127.0.0.1:1/ok", "http://169.254.169.254/latest/meta-data/",
     "https://evil.example/a.png", "file:///etc/passwd"],
)
def test_a_redirect_to_a_disallowed_origin_is_refused(origins, server, target):
    port = urlsplit(server).port
    with pytest.raises(FetchRefused):
        fetch(f"{server}/redirect?to={target.format(port=port)}", max_bytes=1000)


# --- size and time ----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_cut_while_reading(origins, server):
    with pytest.raises(FetchRefused, match="over the 100000 bytes limit"):
        fetch(f"{server}/big", max_bytes=100_000)
    assert len(fetch(f"{server}/big", max_bytes=1_000_000).content) == 400_000


def test_a_declared_size_over_the_limit_is_refused_before_reading(origins, server):
    with pytest.raises(FetchRefused, match="999999999 bytes"):
        fetch(f"{server}/big-declared", max_bytes=1000)


def test_a_slow_drip_is_cut_at_the_total_time(origins, server):
    origins.MEDIA_FETCH_TOTAL_SECONDS = 0.6
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="longer than 0.6 seconds"):
        fetch(f"{server}/drip", max_bytes=10_000)
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_answers_is_cut_at_the_total_time(origins):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        origins.MEDIA_FETCH_LOCAL_ORIGINS = [f"http://127.0.0.1:{silent.getsockname()[1]}"]
        origins.MEDIA_FETCH_TOTAL_SECONDS = 0.5
        started = time.monotonic()
        with pytest.raises(FetchRefused, match="longer than"):
            fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/a.png", max_bytes=1000)
        assert time.monotonic() - started < 1.5
    finally:
        silent.close()


def test_the_local_session_serves_the_local_origin(origins, server):
    # The Graph client's session is handed in for the sandbox origin (the demo seeder routes it
    # in-process); public origins never use it.
    session = requests.Session()
    calls = []
    original = session.send

    def send(request, **kwargs):
        calls.append(request.url)
        return original(request, **kwargs)

    session.send = send
    fetch(f"{server}/ok", max_bytes=1000, local_session=session)
    assert calls == [f"{server}/ok"]
    assert safe_fetch.REQUEST_HEADERS["Accept-Encoding"] == "identity"
