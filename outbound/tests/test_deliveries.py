"""Sending deliveries: retries on a schedule, signatures, the address rules, giving up and disabling."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from outbound import deliveries
from outbound.deliveries import (
    deliveries_create,
    deliveries_prune,
    deliveries_requeue_due,
    delivery_attempt,
    delivery_replay,
)
from outbound.models import WebhookDelivery, WebhookEndpoint
from outbound.signing import signature_verify
from outbound.tests.factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

State = WebhookDelivery.State
URL = "https://crm.example.com/hooks/social-inbox"
DOCUMENT = {"id": "6f1c0c52-44a4-4e58-8c3e-1f2e3d4c5b6a", "business": "bakery-rossi", "content": "Ciao"}


@pytest.fixture
def endpoint(business):
    return WebhookEndpointFactory(business=business, url=URL, events=["message.created", "conversation.resolved"])


def _delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    (pk,) = deliveries_create(business_id=endpoint.business_id, event="message.created", documents=[DOCUMENT])
    return WebhookDelivery.objects.get(pk=pk)


def _drive(delivery: WebhookDelivery, *, start, tries: int) -> list:
    """Run ``tries`` attempts, each at the time the previous one scheduled (no sleeping)."""
    now, outcomes = start, []
    for _ in range(tries):
        outcomes.append(delivery_attempt(delivery_id=delivery.pk, now=now))
        delivery.refresh_from_db()
        now = delivery.next_attempt_at or now
    return outcomes


@responses.activate
def test_a_receiver_failing_three_times_then_answering_gets_the_event_once_more_and_the_log_shows_four(endpoint):
    for status in (500, 500, 500, 200):
        responses.add(responses.POST, URL, status=status, body=f"answer {status}")
    delivery = _delivery(endpoint)
    start = timezone.now()

    outcomes = _drive(delivery, start=start, tries=4)
    # A late duplicate of the task (a broker redelivering the retry) sends nothing more.
    again = delivery_attempt(delivery_id=delivery.pk, now=start + timedelta(hours=1))

    assert [o.state for o in outcomes] == [State.FAILED, State.FAILED, State.FAILED, State.SUCCEEDED]
    assert again.attempted is False
    assert len(responses.calls) == 4
    delivery.refresh_from_db()
    assert delivery.state == State.SUCCEEDED
    assert delivery.attempts == 4
    assert [entry["status"] for entry in delivery.attempts_log] == [500, 500, 500, 200]
    assert delivery.response_status == 200 and delivery.response_body == "answer 200"
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the success ended the failing streak


@responses.activate
def test_retries_wait_longer_each_time_within_the_jitter(endpoint):
    responses.add(responses.POST, URL, status=503)
    delivery = _delivery(endpoint)
    start = timezone.now()
    waits = []
    now = start
    for _ in range(5):
        outcome = delivery_attempt(delivery_id=delivery.pk, now=now)
        waits.append(outcome.retry_in)
        delivery.refresh_from_db()
        now = delivery.next_attempt_at

    for wait, base in zip(waits, deliveries.RETRY_DELAYS, strict=False):
        assert base * 0.9 - 1 <= wait <= base * 1.1 + 1
    assert waits == sorted(waits)


@responses.activate
def test_a_try_before_it_is_due_sends_nothing(endpoint):
    responses.add(responses.POST, URL, status=500)
    delivery = _delivery(endpoint)
    start = timezone.now()
    delivery_attempt(delivery_id=delivery.pk, now=start)

    early = delivery_attempt(delivery_id=delivery.pk, now=start + timedelta(seconds=5))

    assert early.attempted is False
    assert len(responses.calls) == 1


@responses.activate
def test_the_delivery_is_given_up_a_day_after_its_first_try(endpoint):
    responses.add(responses.POST, URL, status=500)
    delivery = _delivery(endpoint)
    start = timezone.now()

    outcomes = _drive(delivery, start=start, tries=20)

    attempted = [o for o in outcomes if o.attempted]
    assert attempted[-1].state == State.GIVEN_UP
    delivery.refresh_from_db()
    assert delivery.state == State.GIVEN_UP
    last = delivery.attempts_log[-1]["at"]
    assert last == (start + deliveries.GIVE_UP_AFTER).isoformat()  # the last try is a day after the first
    assert 8 <= delivery.attempts <= 12


@responses.activate
def test_the_request_is_signed_with_the_endpoint_secret_and_names_the_event(endpoint):
    responses.add(responses.POST, URL, status=204)
    delivery = _delivery(endpoint)
    now = timezone.now()

    delivery_attempt(delivery_id=delivery.pk, now=now)

    request = responses.calls[0].request
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    header = request.headers["X-SocialInbox-Signature"]
    assert signature_verify(endpoint.secret, body, header, now=now.timestamp())
    assert not signature_verify("whsec_another", body, header, now=now.timestamp())
    assert request.headers["X-SocialInbox-Event"] == "message.created"
    assert request.headers["X-SocialInbox-Delivery"] == str(delivery.event_id)
    payload = json.loads(body)
    assert payload["id"] == str(delivery.event_id)
    assert payload["type"] == "message.created"
    assert payload["business"] == "bakery-rossi"
    assert payload["data"] == DOCUMENT
    assert payload["createdAt"].endswith("Z")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://169.254.169.254/latest"])
def test_a_private_address_is_refused_and_given_up_without_a_request(business, settings, url):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = WebhookEndpointFactory(business=business, url=url)
    delivery = _delivery(endpoint)

    outcome = delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert outcome.state == State.GIVEN_UP
    assert delivery.error.startswith("Refused:")
    assert delivery.response_status is None


@responses.activate
def test_a_redirect_is_not_followed(endpoint):
    responses.add(responses.POST, URL, status=302, headers={"Location": "http://127.0.0.1/admin"})
    delivery = _delivery(endpoint)

    outcome = delivery_attempt(delivery_id=delivery.pk)

    assert outcome.state == State.FAILED
    assert len(responses.calls) == 1
    delivery.refresh_from_db()
    assert delivery.response_status == 302


@responses.activate
def test_the_response_body_kept_is_the_first_two_kilobytes(endpoint):
    responses.add(responses.POST, URL, status=400, body="x" * 10_000)
    delivery = _delivery(endpoint)

    delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert len(delivery.response_body) == 2048
    assert delivery.error == "The endpoint answered 400."


@responses.activate
def test_an_endpoint_failing_for_a_day_is_disabled_and_owners_and_admins_are_emailed(endpoint, business, member):
    MembershipFactory(business=business, role=Membership.Role.ADMIN, user__email="admin@bakery.example")
    MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example")
    responses.add(responses.POST, URL, status=500)
    first, second = _delivery(endpoint), _delivery(endpoint)
    start = timezone.now()

    delivery_attempt(delivery_id=first.pk, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == start and endpoint.is_active
    delivery_attempt(delivery_id=second.pk, now=start + timedelta(hours=23))
    endpoint.refresh_from_db()
    assert endpoint.is_active and not mail.outbox
    delivery_attempt(delivery_id=second.pk, now=start + timedelta(hours=24, minutes=5))

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_reason.startswith("Every delivery failed since")
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@bakery.example", "owner@bakery.example"]
    assert URL in mail.outbox[0].body
    assert endpoint.secret not in mail.outbox[0].body
    # Disabled: a due delivery is not sent any more.
    calls = len(responses.calls)
    assert delivery_attempt(delivery_id=first.pk, now=start + timedelta(hours=30)).attempted is False
    assert len(responses.calls) == calls


@responses.activate
def test_a_success_in_between_restarts_the_failing_clock(endpoint):
    responses.add(responses.POST, URL, status=500)
    first, second, third = _delivery(endpoint), _delivery(endpoint), _delivery(endpoint)
    start = timezone.now()
    delivery_attempt(delivery_id=first.pk, now=start)
    responses.replace(responses.POST, URL, status=200)
    delivery_attempt(delivery_id=second.pk, now=start + timedelta(hours=12))
    responses.replace(responses.POST, URL, status=500)

    delivery_attempt(delivery_id=third.pk, now=start + timedelta(hours=25))

    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.failing_since == start + timedelta(hours=25)


def test_deliveries_go_only_to_active_endpoints_subscribed_to_the_event(business, other_business):
    subscribed = WebhookEndpointFactory(business=business, events=["message.created"])
    WebhookEndpointFactory(business=business, events=["conversation.resolved"])
    WebhookEndpointFactory(business=business, events=["message.created"], is_active=False)
    WebhookEndpointFactory(business=other_business, events=["message.created"])

    ids = deliveries_create(business_id=business.pk, event="message.created", documents=[DOCUMENT, DOCUMENT])

    rows = WebhookDelivery.objects.filter(pk__in=ids)
    assert {row.endpoint_id for row in rows} == {subscribed.pk}
    assert len({row.event_id for row in rows}) == 2


def test_the_task_sends_once_and_leaves_the_retry_to_its_time(endpoint, django_capture_on_commit_callbacks):
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, URL, status=500)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _delivery(endpoint)

        assert len(mocked.calls) == 1  # the eager retry found it not due yet
    delivery.refresh_from_db()
    assert delivery.state == State.FAILED
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)


@responses.activate
def test_replay_sends_the_same_event_again_as_a_new_delivery(endpoint, member):
    responses.add(responses.POST, URL, status=200)
    delivery = _delivery(endpoint)
    delivery_attempt(delivery_id=delivery.pk)

    replay = delivery_replay(delivery=delivery, user=member)
    delivery_attempt(delivery_id=replay.pk)

    replay.refresh_from_db()
    assert replay.pk != delivery.pk and replay.replay_of_id == delivery.pk
    assert replay.event_id == delivery.event_id and replay.payload == delivery.payload
    assert replay.state == State.SUCCEEDED
    assert len(responses.calls) == 2
    from accounts.models import AuditEvent

    assert AuditEvent.objects.filter(action="outbound.delivery.replayed", actor=member, business=endpoint.business).exists()


def test_overdue_deliveries_are_queued_again(endpoint, monkeypatch):
    queued = []
    monkeypatch.setattr(deliveries, "enqueue", lambda name, pk: queued.append(pk) or True)
    overdue, fresh = _delivery(endpoint), _delivery(endpoint)
    WebhookDelivery.objects.filter(pk=overdue.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=10))

    assert deliveries_requeue_due() == 1
    assert queued == [overdue.pk]
    assert fresh.pk not in queued


def test_done_deliveries_older_than_a_month_are_pruned_and_waiting_ones_kept(endpoint):
    old_done, old_waiting, recent = _delivery(endpoint), _delivery(endpoint), _delivery(endpoint)
    WebhookDelivery.objects.filter(pk=old_done.pk).update(state=State.SUCCEEDED)
    WebhookDelivery.objects.filter(pk__in=[old_done.pk, old_waiting.pk]).update(
        created_at=timezone.now() - timedelta(days=31)
    )

    assert deliveries_prune() == 1

    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old_waiting.pk, recent.pk}


def test_a_delivery_whose_endpoint_was_deleted_is_not_tried(endpoint):
    delivery = _delivery(endpoint)
    endpoint.delete()

    assert delivery_attempt(delivery_id=delivery.pk).attempted is False
