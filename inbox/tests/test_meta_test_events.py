"""Test events from the App Dashboard's Test button: answered 200, recorded as tests, never failures.

The bodies are captured ones (``fixtures/captured/``): a Page sample pasted in a bug report, and
Instagram samples recorded with Meta's own signature.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from inbox.ingest.replay import webhook_events_replay, webhook_events_replay_for_account, webhook_events_requeue_stale
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.tests.helpers import PAGE_ID, FakeGraph, post_webhook
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

State = WebhookEvent.State
CAPTURED = Path(__file__).parent / "fixtures" / "captured"
PAGE_SAMPLE = "messenger_test__launch-vehicle-fbm-issue-73.json"
INSTAGRAM_MESSAGES_SAMPLE = "instagram_test__instagram-concierge-messages.json"
INSTAGRAM_COMMENTS_SAMPLE = "instagram_test__instagram-concierge-comments.json"


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def captured(name: str) -> bytes:
    return (CAPTURED / name).read_bytes()


@pytest.mark.parametrize("name", [PAGE_SAMPLE, INSTAGRAM_MESSAGES_SAMPLE, INSTAGRAM_COMMENTS_SAMPLE])
def test_a_dashboard_test_event_is_answered_and_recorded_as_a_test(client, page, name):
    response = post_webhook(client, captured(name))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    # Before: "unroutable" with "No connected account for entry id(s): 0", kept forever.
    assert event.state == State.TEST
    assert event.unroutable_account_ids == []
    assert event.last_error == ""
    assert bytes(event.body) == captured(name)
    assert ChatMessage.objects.count() == 0
    assert Conversation.objects.count() == 0


def test_a_test_event_makes_no_customer_even_if_an_account_zero_is_connected(client, business):
    # Instagram's sample carries a real-looking message ("random_text" from 12334): it is not one.
    SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, account_id="0")

    post_webhook(client, captured(INSTAGRAM_MESSAGES_SAMPLE))

    assert WebhookEvent.objects.get().state == State.TEST
    assert not Contact.objects.exists()
    assert not ChatMessage.objects.exists()


def test_a_sample_batched_with_a_real_entry_routes_the_real_one_only(client, page):
    sample = json.loads(captured(PAGE_SAMPLE))["entry"][0]
    real = {
        "id": PAGE_ID,
        "time": 1780000000000,
        "messaging": [
            {
                "sender": {"id": "7100000000000001"},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1780000000000,
                "message": {"mid": "m_real", "text": "hello"},
            }
        ],
    }
    body = json.dumps({"object": "page", "entry": [sample, real]}).encode()

    post_webhook(client, body)

    event = WebhookEvent.objects.get()
    assert event.state == State.PROCESSED
    assert event.account_ids == [PAGE_ID]
    assert event.unroutable_account_ids == []
    assert list(ChatMessage.objects.values_list("content", flat=True)) == ["hello"]


def test_test_events_are_never_replayed_nor_requeued(client, page):
    post_webhook(client, captured(PAGE_SAMPLE))
    event = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=1))
    zero = SocialAccountFactory(business=page.business, account_id="0")

    with mock.patch("inbox.ingest.replay.webhook_events_wake") as wake:
        assert webhook_events_requeue_stale(older_than_seconds=60) == 0
    wake.assert_not_called()
    # Connecting an account never replays a sample into it (only unroutable and failed events wait).
    assert webhook_events_replay_for_account(zero) == 0


def test_replaying_a_test_event_on_purpose_records_it_as_a_test_again(client, page, django_capture_on_commit_callbacks):
    post_webhook(client, captured(PAGE_SAMPLE))
    event = WebhookEvent.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_replay(event_ids=[event.pk]) == 1

    event.refresh_from_db()
    assert event.state == State.TEST
    assert event.attempts == 2


def test_operators_filter_test_events_in_the_admin(admin_client, client, page):
    post_webhook(client, captured(PAGE_SAMPLE))

    response = admin_client.get(reverse("admin:inbox_webhookevent_changelist"), {"state": "test"})

    assert response.status_code == 200
    assert "Test event from Meta" in response.content.decode()
    assert len(response.context["cl"].result_list) == 1


def test_owners_see_the_last_test_event_on_the_pages_screen(client, client_member, page):
    url = reverse("social:account_list")
    assert "Last test event from Meta: none received" in client_member.get(url).content.decode()

    post_webhook(client, captured(PAGE_SAMPLE))

    html = client_member.get(url).content.decode()
    assert "Last test event from Meta:" in html
    assert "none received" not in html


def test_agents_do_not_see_the_webhook_test_line(client, business, page):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)

    assert "Last test event from Meta" not in client.get(reverse("social:account_list")).content.decode()
