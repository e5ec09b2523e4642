"""API keys: the settings page, the secret shown once and stored hashed, revoking, limits, audit."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey
from api.tests.conftest import Api

pytestmark = pytest.mark.django_db


def test_owner_creates_a_key_shown_once_and_stored_hashed(client_member, business):
    answer = client_member.post(reverse("api:api_key_list"), {"name": "CRM sync", "scope": "write"})
    assert answer.status_code == 200
    key = ApiKey.objects.for_business(business).get()
    secret = answer.context["created"].secret
    assert secret.startswith("si_") and secret in answer.content.decode()
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.values().get())  # only the hash is stored
    assert (key.scope, key.name) == ("write", "CRM sync")
    # Shown once: the page never shows it again.
    assert secret not in client_member.get(reverse("api:api_key_list")).content.decode()
    assert AuditEvent.objects.filter(action="api_key.created", target_id=str(key.pk)).exists()
    assert secret not in str(list(AuditEvent.objects.values_list("metadata", flat=True)))


def test_a_nameless_key_is_refused_with_a_message(client_member, business):
    answer = client_member.post(reverse("api:api_key_list"), {"name": "  ", "scope": "read"})
    assert answer.status_code == 400
    assert answer.context["form"].errors["name"]
    assert not ApiKey.objects.exists()


def test_agents_cannot_see_or_manage_keys(client, business, write_key):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)
    assert client.get(reverse("api:api_key_list")).status_code == 403
    assert client.post(reverse("api:api_key_list"), {"name": "x", "scope": "write"}).status_code == 403
    assert client.post(reverse("api:api_key_revoke", args=[write_key.key.pk])).status_code == 403
    write_key.key.refresh_from_db()
    assert write_key.key.revoked_at is None


def test_another_business_cannot_revoke_or_list_a_key(client_other, write_key):
    assert client_other.post(reverse("api:api_key_revoke", args=[write_key.key.pk])).status_code == 404
    write_key.key.refresh_from_db()
    assert write_key.key.revoked_at is None
    assert write_key.key.prefix not in client_other.get(reverse("api:api_key_list")).content.decode()


def test_a_revoked_key_fails_at_once(client, client_member, write_key, page):
    api = Api(client, write_key.secret)
    assert api.get("/accounts").status_code == 200
    answer = client_member.post(reverse("api:api_key_revoke", args=[write_key.key.pk]))
    assert answer.status_code == 302
    refused = api.get("/accounts")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    assert AuditEvent.objects.filter(action="api_key.revoked", target_id=str(write_key.key.pk)).exists()


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer si_wrong", "Basic dXNlcjpwYXNz", "Bearer x" * 50])
def test_missing_or_wrong_keys_are_401_json(client, write_key, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = client.get("/api/v1/accounts", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


def test_keys_belong_to_the_business_not_to_their_creator(client, business, member, page):
    """A member who leaves takes no key with them, and their keys keep working until revoked."""
    creator = MembershipFactory(business=business, role=Membership.Role.ADMIN).user
    created = api_key_create(business=business, user=creator, name="Integration", scope="read")
    Membership.objects.filter(user=creator, business=business).delete()
    api = Api(client, created.secret)
    assert api.get("/accounts").status_code == 200
    api_key_revoke(key=created.key, user=member)
    assert api.get("/accounts").status_code == 401


def test_the_key_user_cannot_sign_in_and_belongs_to_no_business(client, write_key):
    actor = write_key.key.actor
    assert not actor.is_active and not actor.has_usable_password()
    assert not Membership.objects.filter(user=actor).exists()
    assert not client.login(email=actor.email, password="")


def test_every_use_is_audited_with_method_and_path(api, write_key, page):
    api.get("/accounts")
    api.get(f"/accounts/{page.public_id}")
    uses = list(AuditEvent.objects.filter(action="api.request", target_id=str(write_key.key.pk)).order_by("id"))
    assert [(u.metadata["method"], u.metadata["path"]) for u in uses] == [
        ("GET", "/api/v1/accounts"), ("GET", f"/api/v1/accounts/{page.public_id}"),
    ]
    assert all(u.business_id == write_key.key.business_id and u.actor_id == write_key.key.actor_id for u in uses)
    write_key.key.refresh_from_db()
    assert write_key.key.last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(api, settings, page):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    answers = [api.get("/accounts") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


def test_the_rate_limit_is_per_key(api, read_api, settings, page):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    assert api.get("/accounts").status_code == 200
    assert api.get("/accounts").status_code == 429
    assert read_api.get("/accounts").status_code == 200


def test_an_oversized_body_is_413_and_nothing_is_sent(api, settings, conversation):
    settings.API_MAX_BODY_BYTES = 100
    answer = api.post(f"/conversations/{conversation.public_id}/messages", {"text": "x" * 200})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert not conversation.messages.filter(direction="outbound").exists()


def test_the_settings_page_is_linked_from_settings(client_member):
    assert reverse("api:api_key_list") in client_member.get(reverse("accounts:business_settings")).content.decode()
