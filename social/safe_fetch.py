"""Fetching a URL that a webhook payload or a Graph answer names: Meta's media, never our network.

An attachment or profile-picture URL is untrusted input. Followed blindly, it makes the server fetch
loopback, private or cloud-metadata addresses and hand the bytes to staff, or lets a slow server
hold a worker for minutes. ``fetch`` therefore:

- accepts only the origins (scheme, host, port) of ``MEDIA_FETCH_ALLOWED_ORIGINS``: Meta's media
  hosts over https in production (docs/messenger-platform.md §11); ``https://*.fbcdn.net`` matches every
  subdomain of fbcdn.net, never fbcdn.net itself nor evilfbcdn.net;
- resolves the host once, refuses an address that is not public (private, loopback, link-local,
  multicast, reserved, unspecified; an IPv4-mapped IPv6 address is judged as its IPv4 address) and
  connects to that very address: requests-hardened's adapter pins it and keeps the Host header and
  the TLS name, so a DNS answer that changes between the check and the connection cannot reach us;
- exempts from the address rule only the origins of ``MEDIA_FETCH_LOCAL_ORIGINS``: the sandbox's
  own origin in development (config/settings/sandbox.py); production has none;
- follows at most ``MAX_REDIRECTS`` redirects itself, judging every hop like the first URL;
- stops at ``max_bytes`` and after ``MEDIA_FETCH_TOTAL_SECONDS`` of wall clock for the whole fetch,
  redirects and a slowly dripping body included.

A refusal raises ``FetchRefused`` with a reason fit for staff: the same URL would be refused again.
Transport failures stay ``requests`` exceptions, for the caller's retry policy.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests
import urllib3
from django.conf import settings
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.util import parse_url

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024
TIME_SLACK_SECONDS = 0.05
DEFAULT_PORTS = {"http": 80, "https": 443}
# Compressed bodies would make max_bytes count the wrong thing; Meta's CDN serves media as is.
REQUEST_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity", "User-Agent": "SocialInbox-media/1"}


class FetchRefused(Exception):
    """Our fetch policy refused the URL (origin, address, redirects, size, time); retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; "*.example.com" stands for every subdomain of example.com
    port: int

    @classmethod
    def parse(cls, text: str) -> Origin:
        """An origin from a setting, e.g. ``https://*.fbcdn.net`` or ``http://127.0.0.1:8000``."""
        url = parse_url(text.strip())
        if url.scheme not in DEFAULT_PORTS or not url.host or url.auth or (url.path or "/") != "/":
            raise ValueError(f"Not an origin (scheme://host[:port]): {text!r}")
        return cls(scheme=url.scheme, host=url.host.lower(), port=url.port or DEFAULT_PORTS[url.scheme])

    def matches(self, other: Origin) -> bool:
        if (self.scheme, self.port) != (other.scheme, other.port):
            return False
        if self.host.startswith("*."):
            return other.host.endswith(self.host[1:])
        return other.host == self.host

    def __str__(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{self.host}" + ("" if default else f":{self.port}")


@dataclass(frozen=True)
class Fetched:
    url: str  # the last hop's
    status: int
    headers: Any
    content: bytes  # empty for an error status

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type") or "application/octet-stream"


def address_refusal(address: str) -> str | None:
    """Why we will not connect to this IP address, or None for a public one."""
    ip = ipaddress.ip_address(address.strip("[]"))
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = ip.ipv4_mapped
    kinds = (
        ("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified), ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast), ("private", ip.is_private), ("reserved", ip.is_reserved),
        ("site-local", getattr(ip, "is_site_local", False)),
        ("non-public", not ip.is_global),
    )
    kind = next((name for name, hit in kinds if hit), None)
    return f"a {kind} address ({ip})" if kind else None


class PublicAddressAdapter(IPFilterAdapter):
    """requests-hardened's adapter (resolve once, refuse private addresses, connect to the address it
    checked), with our stricter rule applied to the very address it pinned."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict, dict]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        refusal = address_refusal(host_params["host"])
        if refusal is not None:
            raise FetchRefused(f"{parse_url(str(request.url)).host} resolves to {refusal}.")
        return host_params, pool_kwargs


def _session(*, public: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc credentials from the environment
    if public:
        session.mount("https://", PublicAddressAdapter(is_https_proto=True))
        session.mount("http://", PublicAddressAdapter(is_https_proto=False))
    return session


def _origins(name: str) -> list[Origin]:
    return list(_parsed_origins(tuple(getattr(settings, name, ()) or ())))


@functools.lru_cache(maxsize=16)
def _parsed_origins(texts: tuple[str, ...]) -> tuple[Origin, ...]:
    """Parsed once per value of the setting: every avatar of a list page asks (``origin_allowed``)."""
    return tuple(Origin.parse(text) for text in texts)


def _origin_of(url: str) -> Origin:
    try:
        parts = parse_url(url)
    except urllib3.exceptions.LocationParseError:
        raise FetchRefused("The media URL is not a valid URL.") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.host:
        raise FetchRefused("The media URL is not an http(s) URL.")
    if parts.auth:
        raise FetchRefused("The media URL carries credentials.")
    return Origin(scheme=parts.scheme, host=parts.host.lower(), port=parts.port or DEFAULT_PORTS[parts.scheme])


def origin_allowed(url: str) -> bool:
    """Whether ``url`` is on an origin media may come from: what pages may also load directly.

    A customer's picture or attachment is shown from Meta's link until our copy is stored; only an
    allowed origin's link reaches the page, so a payload cannot make staff browsers load anything else.
    """
    try:
        origin = _origin_of(url)
    except FetchRefused:
        return False
    allowed = _origins("MEDIA_FETCH_ALLOWED_ORIGINS") + _origins("MEDIA_FETCH_LOCAL_ORIGINS")
    return any(candidate.matches(origin) for candidate in allowed)


def _remaining(deadline: float, total: float) -> float:
    """The time left; none left is a refusal (a socket timeout cut to it fires a hair early)."""
    left = deadline - time.monotonic()
    if left <= TIME_SLACK_SECONDS:
        raise FetchRefused(f"The download took longer than {total:g} seconds.")
    return left


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: tuple[float, float] = (3.05, 15),
    local_session: requests.Session | None = None,
) -> Fetched:
    """GET ``url`` under the rules above. ``timeout`` (connect, read) bounds each socket wait, the
    total time bounds the whole; ``local_session`` serves the local (sandbox) origins, e.g. the
    Graph client's session, which development may route to the sandbox in-process."""
    total = float(settings.MEDIA_FETCH_TOTAL_SECONDS)
    deadline = time.monotonic() + total
    allowed, local = _origins("MEDIA_FETCH_ALLOWED_ORIGINS"), _origins("MEDIA_FETCH_LOCAL_ORIGINS")
    with _session(public=True) as public, _session(public=False) as plain:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                prepared = requests.Request("GET", url, headers=REQUEST_HEADERS).prepare()
            except (requests.RequestException, ValueError):
                raise FetchRefused("The media URL is not a valid URL.") from None
            # Judged as the transport will read it: the prepared URL, parsed by urllib3 as the pool does.
            target = str(prepared.url)
            origin = _origin_of(target)
            is_local = any(o.matches(origin) for o in local)
            if not is_local and not any(o.matches(origin) for o in allowed):
                raise FetchRefused(f"{origin} is not an allowed media origin.")
            session = (local_session or plain) if is_local else public
            left = _remaining(deadline, total)
            try:
                response = session.send(
                    prepared, stream=True, allow_redirects=False,
                    timeout=(min(timeout[0], left), min(timeout[1], left)),
                )
            except InvalidIPAddress as exc:  # the library's own rule refused it first
                refusal = address_refusal(str(exc.args[0])) if exc.args else None
                raise FetchRefused(f"{origin.host} resolves to {refusal or 'a non-public address'}.") from None
            except requests.Timeout:
                _remaining(deadline, total)  # the total time ran out: a refusal, not a transient error
                raise
            with response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECT_STATUSES and location:
                    url = urljoin(target, location)
                    continue
                if 300 <= response.status_code < 400:
                    raise FetchRefused(f"The media server answered {response.status_code} without a usable redirect.")
                content = b"" if response.status_code >= 400 else _read(
                    response, max_bytes=max_bytes, deadline=deadline, total=total
                )
                return Fetched(url=target, status=response.status_code, headers=response.headers,
                               content=content)
    raise FetchRefused(f"The media URL redirected more than {MAX_REDIRECTS} times.")


def _read(response: requests.Response, *, max_bytes: int, deadline: float, total: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(f"The file is {declared} bytes, over the {max_bytes} bytes limit.")
    read = _reader(response.raw)
    chunks: list[bytes] = []
    size = 0
    while True:
        _wait_at_most(response.raw, _remaining(deadline, total))
        try:
            chunk = read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            _remaining(deadline, total)
            raise requests.ConnectionError(f"Reading the media failed: {type(exc).__name__}") from exc
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(f"The file is over the {max_bytes} bytes limit.")
        chunks.append(chunk)


def _reader(raw: Any) -> Callable[[], bytes]:
    """One read that returns as soon as some bytes arrived (read1), so the time cap is checked
    between drips; iter_content would wait for a whole chunk however slowly it comes."""
    if isinstance(raw, urllib3.response.BaseHTTPResponse):
        return lambda: raw.read1(CHUNK_BYTES, decode_content=True)
    return lambda: raw.read1(CHUNK_BYTES)  # an in-process transport's buffer (the sandbox seeder)


def _wait_at_most(raw: Any, seconds: float) -> None:
    """Shorten the socket's read timeout to the time left, so one slow read cannot overrun it."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))

