"""A `requests` transport that hands calls for the sandbox to this process's Django views.

`seed_demo` runs before the server is up, yet connects the demo page through the real connect
code (GraphClient → Graph API); this adapter lets those calls reach the sandbox without a socket.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from django.test import Client
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

if TYPE_CHECKING:
    from collections.abc import Iterator


class InProcessAdapter(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.client = Client(raise_request_exception=True)

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        extra = {"HTTP_HOST": url.netloc}
        if request.headers.get("Authorization"):
            extra["HTTP_AUTHORIZATION"] = request.headers["Authorization"]
        django_response = self.client.generic(
            request.method, f"{url.path}?{url.query}" if url.query else url.path, data=body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"), **extra,
        )
        response = requests.Response()
        response.status_code = django_response.status_code
        response.headers = CaseInsensitiveDict(dict(django_response.items()))
        content = b"".join(django_response) if django_response.streaming else django_response.content
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@contextmanager
def sandbox_in_process(session: requests.Session, prefix: str) -> Iterator[None]:
    """Route every call under `prefix` (the sandbox's base URL) through the in-process adapter."""
    previous = session.adapters.get(prefix)
    session.mount(prefix, InProcessAdapter())
    try:
        yield
    finally:
        if previous is None:
            session.adapters.pop(prefix, None)
        else:
            session.mount(prefix, previous)
