"""The webhook settings pages: owners and admins only, tenancy, the secret shown once, every change audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory, UserFactory
from outbound.deliveries import deliveries_create
from outbound.models import WebhookDelivery, WebhookEndpoint
from outbound.tests.factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

EVENTS = ["message.created", "conversation.resolved"]


@pytest.fixture
def endpoint(business, member):
    return WebhookEndpointFactory(business=business, events=EVENTS, created_by=member)


@pytest.fixture
def delivery(endpoint):
    (pk,) = deliveries_create(business_id=endpoint.business_id, event="message.created", documents=[{"id": "x"}])
    return WebhookDelivery.objects.get(pk=pk)


@pytest.fixture
def client_agent(client, business):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example").user
    client.force_login(agent)
    return client


def _urls(endpoint, delivery):
    return {
        "detail": reverse("outbound:webhook_detail", args=[endpoint.pk]),
        "rotate": reverse("outbound:webhook_rotate", args=[endpoint.pk]),
        "enable": reverse("outbound:webhook_enable", args=[endpoint.pk]),
        "disable": reverse("outbound:webhook_disable", args=[endpoint.pk]),
        "delete": reverse("outbound:webhook_delete", args=[endpoint.pk]),
        "replay": reverse("outbound:webhook_replay", args=[endpoint.pk, delivery.pk]),
    }


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(client_member, business, member):
    response = client_member.post(
        reverse("outbound:webhook_list"),
        {"url": "https://crm.example.com/hook", "description": "CRM", "events": EVENTS},
    )

    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.for_business(business).get()
    assert endpoint.events == sorted(EVENTS) and endpoint.created_by == member and endpoint.is_active
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret not in client_member.get(reverse("outbound:webhook_detail", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in client_member.get(reverse("outbound:webhook_list")).content.decode()
    audit = AuditEvent.objects.get(action="outbound.endpoint.created")
    assert audit.actor == member and endpoint.secret not in str(audit.metadata)


def test_the_secret_is_encrypted_in_the_database(endpoint):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM outbound_webhookendpoint WHERE id = %s", [endpoint.pk])
        (stored,) = cursor.fetchone()
    assert stored and endpoint.secret not in stored


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://crm.example.com/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://localhost/hook", "this server"),
        ("https://user:pw@crm.example.com/hook", "password"),
        ("ftp://crm.example.com/hook", "https://"),
        ("not a url", "https://"),
    ],
)
def test_a_bad_url_is_refused_with_a_message(client_member, settings, url, message):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    response = client_member.post(reverse("outbound:webhook_list"), {"url": url, "events": EVENTS})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_event_chosen_is_refused(client_member):
    response = client_member.post(reverse("outbound:webhook_list"), {"url": "https://crm.example.com/hook"})

    assert response.status_code == 400
    assert "Choose at least one event." in response.content.decode()


def test_http_to_a_local_receiver_is_allowed_where_private_receivers_are(client_member, settings, business):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    settings.SANDBOX = True
    response = client_member.post(reverse("outbound:webhook_list"), {"url": "http://127.0.0.1:8765/hook", "events": EVENTS})

    assert response.status_code == 201
    assert WebhookEndpoint.objects.for_business(business).get().url == "http://127.0.0.1:8765/hook"


def test_the_allow_private_setting_does_nothing_in_production(client_member, settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    settings.SANDBOX = False
    settings.DEBUG = False
    response = client_member.post(reverse("outbound:webhook_list"), {"url": "http://127.0.0.1:8765/hook", "events": EVENTS})

    assert response.status_code == 400


def test_rotating_shows_a_new_secret_once_and_is_audited(client_member, endpoint):
    old = endpoint.secret

    response = client_member.post(reverse("outbound:webhook_rotate", args=[endpoint.pk]))

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in response.content.decode() and old not in response.content.decode()
    assert AuditEvent.objects.filter(action="outbound.endpoint.secret_rotated", target_id=str(endpoint.pk)).exists()


def test_disable_enable_and_delete(client_member, endpoint, delivery):
    urls = _urls(endpoint, delivery)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since="2026-01-01T00:00:00Z")

    assert client_member.post(urls["disable"]).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert client_member.post(urls["enable"]).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is None and endpoint.disabled_at is None
    assert client_member.post(urls["delete"]).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    actions = set(AuditEvent.objects.filter(target_id=str(endpoint.pk)).values_list("action", flat=True))
    assert {"outbound.endpoint.disabled", "outbound.endpoint.enabled", "outbound.endpoint.deleted"} <= actions


def test_editing_the_events(client_member, endpoint):
    response = client_member.post(
        reverse("outbound:webhook_detail", args=[endpoint.pk]), {"events": ["conversation.created"], "description": "Bot"}
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["conversation.created"] and endpoint.description == "Bot"
    bad = client_member.post(reverse("outbound:webhook_detail", args=[endpoint.pk]), {"events": ["nope.nothing"]})
    assert bad.status_code == 400


def test_the_delivery_log_shows_each_delivery_with_its_attempts_and_replay(client_member, endpoint, delivery, member):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED, attempts=2,
        attempts_log=[{"at": "2026-12-01T10:00:00+00:00", "status": 500, "error": "The endpoint answered 500.",
                       "durationMs": 12},
                      {"at": "2026-12-01T10:00:31+00:00", "status": 502, "error": "The endpoint answered 502.",
                       "durationMs": 9}],
    )

    page = client_member.get(reverse("outbound:webhook_detail", args=[endpoint.pk])).content.decode()
    assert f'id="delivery-{delivery.pk}"' in page
    assert "The endpoint answered 502." in page and "2 attempts" in page

    response = client_member.post(reverse("outbound:webhook_replay", args=[endpoint.pk, delivery.pk]))

    assert response.status_code == 302
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert replay.replay_of_id == delivery.pk and replay.event_id == delivery.event_id
    assert AuditEvent.objects.filter(action="outbound.delivery.replayed", actor=member).exists()


def test_another_business_gets_404_for_our_endpoints_deliveries_and_replay(client_other, endpoint, delivery):
    urls = _urls(endpoint, delivery)

    assert client_other.get(urls["detail"]).status_code == 404
    assert client_other.post(urls["detail"], {"events": ["message.created"]}).status_code == 404
    for name in ("rotate", "enable", "disable", "delete", "replay"):
        assert client_other.post(urls[name]).status_code == 404, name
    assert endpoint.url not in client_other.get(reverse("outbound:webhook_list")).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookDelivery.objects.count() == 1


def test_a_delivery_of_another_endpoint_is_404_through_ours(client_member, business, endpoint):
    theirs = WebhookEndpointFactory(business=business, events=EVENTS)
    (pk,) = deliveries_create(business_id=business.pk, event="conversation.resolved", documents=[{"id": "y"}])[-1:]
    WebhookDelivery.objects.filter(pk=pk).update(endpoint=theirs)

    assert client_member.post(reverse("outbound:webhook_replay", args=[endpoint.pk, pk])).status_code == 404


def test_agents_cannot_see_or_change_webhooks(client_agent, endpoint, delivery):
    urls = _urls(endpoint, delivery)

    assert client_agent.get(reverse("outbound:webhook_list")).status_code == 403
    assert client_agent.post(reverse("outbound:webhook_list"), {"url": "https://x.example.com", "events": EVENTS}).status_code == 403
    assert client_agent.get(urls["detail"]).status_code == 403
    for name in ("rotate", "disable", "delete", "replay"):
        assert client_agent.post(urls[name]).status_code == 403, name
    assert WebhookEndpoint.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_access_ends_when_the_membership_does(client, business, endpoint):
    admin = MembershipFactory(business=business, role=Membership.Role.ADMIN, user__email="admin@bakery.example")
    client.force_login(admin.user)
    assert client.get(reverse("outbound:webhook_list")).status_code == 200

    admin.delete()

    assert client.get(reverse("outbound:webhook_list")).status_code != 200
    assert client.get(reverse("outbound:webhook_detail", args=[endpoint.pk])).status_code != 200


def test_the_settings_page_links_to_webhooks(client_member):
    page = client_member.get(reverse("accounts:business_settings")).content.decode()
    assert reverse("outbound:webhook_list") in page


def test_the_admin_never_shows_the_secret(client, endpoint):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    listing = client.get(reverse("admin:outbound_webhookendpoint_changelist"))
    page = client.get(reverse("admin:outbound_webhookendpoint_change", args=[endpoint.pk]))

    assert listing.status_code == 200 and page.status_code == 200
    assert endpoint.secret not in listing.content.decode() and endpoint.secret not in page.content.decode()
    assert endpoint.url in page.content.decode()
