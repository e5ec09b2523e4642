"""Test helpers: run the real Graph client against the sandbox without a server.

`sandbox_http` routes every `requests` call to http://sandbox.test/ through Django's test client
into the sandbox views (same database, same transaction), so service tests exercise Meta's wire
shapes end to end. Import it into a test module: `from sandbox.testing import sandbox_http_fixture  # noqa: F401`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import responses
from django.conf import settings
from django.test import Client
from django.utils import timezone

from sandbox.models import Config, FacebookUser, Page, Token, new_token
from sandbox.seed import seed

HOST = "sandbox.test"
GRAPH_URL = f"http://{HOST}/sandbox/graph/v25.0"
DIALOG_URL = f"http://{HOST}/sandbox/dialog/oauth"


def user_token(*, fb_id: str = "10215241773831025", page_ids: list[str] | None = None,
               scopes: list[str] | None = None, long_lived: bool = True) -> str:
    """A user token as if the person had just granted `page_ids` (default: all their Pages) in the dialog."""
    user = FacebookUser.objects.get(fb_id=fb_id)
    if page_ids is None:
        page_ids = list(user.roles.values_list("page__page_id", flat=True))
    token = Token.objects.create(
        token=new_token(), kind=Token.Kind.USER, user=user, scopes=list(settings.FACEBOOK_LOGIN_SCOPES) if scopes is None else scopes,
        page_ids=page_ids, long_lived=long_lived,
        expires_at=timezone.now() + (timedelta(days=60) if long_lived else timedelta(hours=1)),
    )
    return token.token


def page_on_sandbox(account) -> Page:
    """Give a connected page (a SocialAccount) a real sandbox Page token, so its Graph calls go through the
    sandbox's Graph API; returns the sandbox's Page."""
    sandbox_page = Page.objects.get(page_id=account.account_id)
    token = Token.objects.create(
        token=new_token(), kind=Token.Kind.PAGE, user=sandbox_page.roles.first().user, page=sandbox_page,
        scopes=list(settings.FACEBOOK_LOGIN_SCOPES),
    )
    account.access_token = token.token
    account.save(update_fields=["access_token"])
    return sandbox_page


def forward(client: Client):
    """A `responses` callback handing the request to the sandbox views."""

    def callback(request):
        url = urlsplit(request.url)
        extra = {}
        if request.headers.get("Authorization"):
            extra["HTTP_AUTHORIZATION"] = request.headers["Authorization"]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        response = client.generic(
            request.method, f"{url.path}?{url.query}" if url.query else url.path, data=body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"), **extra,
        )
        return response.status_code, dict(response.items()), response.content

    return callback


@pytest.fixture(name="sandbox_http")
def sandbox_http_fixture(settings, db):
    settings.FACEBOOK_GRAPH_URL = GRAPH_URL
    settings.FACEBOOK_DIALOG_URL = DIALOG_URL
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST, "testserver"]
    seed()
    # No background webhook threads in unit tests; the live-server tests turn them on.
    Config.objects.update_or_create(pk=1, defaults={"send_receipts": False})
    client = Client(HTTP_HOST=HOST)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST, responses.DELETE):
            mock.add_callback(method, re.compile(rf"http://{re.escape(HOST)}/.*"), callback=forward(client))
        yield mock
