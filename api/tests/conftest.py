"""Fixtures of the API's tests: a key of each business and a client that sends them as bearer tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from api.keys import api_key_create
from api.models import ApiKey
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory


@pytest.fixture
def write_key(business, member):
    return api_key_create(business=business, user=member, name="CRM sync", scope=ApiKey.Scope.WRITE)


@pytest.fixture
def read_key(business, member):
    return api_key_create(business=business, user=member, name="Dashboard", scope=ApiKey.Scope.READ)


@pytest.fixture
def other_key(other_business, other_member):
    return api_key_create(business=other_business, user=other_member, name="Other's tool", scope=ApiKey.Scope.WRITE)


@pytest.fixture
def conversation(page):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page, external_id="7012345678901234", name="Giulia Verdi"),
        last_inbound_at=timezone.now() - timedelta(hours=1), unread_count=1,
    )
    ChatMessageFactory(conversation=conversation, content="Do you have gluten-free bread?")
    return conversation


class Api:
    """The test client, speaking to /api/v1/ with one key."""

    def __init__(self, client, secret: str):
        self.client = client
        self.secret = secret

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.secret}", **(headers or {})}

    def get(self, path, params=None, headers=None):
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None):
        return self.client.post(
            f"/api/v1{path}", body if body is not None else {}, content_type="application/json",
            headers=self._headers(headers),
        )

    def delete(self, path, headers=None):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))


@pytest.fixture
def api(client, write_key):
    return Api(client, write_key.secret)


@pytest.fixture
def read_api(client, read_key):
    return Api(client, read_key.secret)


@pytest.fixture
def other_api(client, other_key):
    return Api(client, other_key.secret)
