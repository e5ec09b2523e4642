"""One POST of a delivery to a business's endpoint, under the media fetch's address rules.

The URL is the business's input, so the request obeys what social/safe_fetch.py enforces for media:
the host is resolved once and a private, loopback, link-local or otherwise non-public address is
refused, connecting to the very address checked (requests-hardened's adapter, pinned). Redirects are
never followed: a 3xx is a failed delivery (a redirect to an internal address cannot be taken, and
a receiver that moved should be edited). ``OUTBOUND_WEBHOOKS_ALLOW_PRIVATE`` lifts the address rule
in development and the sandbox only (DEBUG or SANDBOX), for a receiver on this machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
import urllib3
from django.conf import settings
from requests_hardened.ip_filter import InvalidIPAddress

from social.safe_fetch import FetchRefused, PublicAddressAdapter, address_refusal

TIMEOUT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5
BODY_EXCERPT_BYTES = 2048
USER_AGENT = "SocialInbox-Webhooks/1"


class DeliveryRefused(Exception):
    """Our address rules refused the endpoint's URL: sending again would be refused again."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # the first BODY_EXCERPT_BYTES of the answer, decoded leniently
    duration_ms: int


def private_allowed() -> bool:
    allowed = bool(getattr(settings, "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE", False))
    return allowed and bool(settings.DEBUG or getattr(settings, "SANDBOX", False))


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc credentials from the environment
    if not private_allowed():
        session.mount("https://", PublicAddressAdapter(is_https_proto=True))
        session.mount("http://", PublicAddressAdapter(is_https_proto=False))
    return session


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body``; returns the answer (any status), raises ``DeliveryRefused`` for a refused
    address and ``requests.RequestException`` for a network failure or a timeout."""
    started = time.monotonic()
    try:
        with _session() as session:
            response = session.post(
                url, data=body, headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
                timeout=(CONNECT_TIMEOUT_SECONDS, TIMEOUT_SECONDS), allow_redirects=False, stream=True,
            )
            with response:
                excerpt = _excerpt(response)
    except FetchRefused as exc:
        raise DeliveryRefused(exc.reason) from None
    except InvalidIPAddress as exc:  # requests-hardened's own rule refused it first
        refusal = address_refusal(str(exc.args[0])) if exc.args else None
        raise DeliveryRefused(f"The endpoint resolves to {refusal or 'a non-public address'}.") from None
    return Answer(status=response.status_code, body=excerpt, duration_ms=int((time.monotonic() - started) * 1000))


def _excerpt(response: requests.Response) -> str:
    try:
        raw = response.raw.read(BODY_EXCERPT_BYTES, decode_content=True) or b""
    except (urllib3.exceptions.HTTPError, OSError, ValueError):
        raw = b""
    return raw[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")
