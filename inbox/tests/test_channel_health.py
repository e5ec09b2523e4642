"""Channel health of a connected page: what arrived, what failed and why, replay, tokens, a test message."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from inbox import channel_health
from inbox.ingest.event_hours import event_hours_add
from inbox.models import Attachment, ChatMessage, WebhookEvent
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, load_fixture, run_on_commit
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db
State = WebhookEvent.State


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def agent(business):
    return MembershipFactory(business=business, role=Membership.Role.AGENT).user


def _event(
    *accounts: str,
    state: str = State.PROCESSED,
    hours_ago: float = 0,
    unroutable: bool = False,
    error: str = "",
    fixture: str = "message_text",
) -> WebhookEvent:
    """A stored event naming these accounts, as processing records it (and counts it for its hour)."""
    ids = list(accounts)
    event = WebhookEvent.objects.create(
        body=load_fixture(fixture),
        state=state,
        object_type="page",
        last_error=error,
        account_ids=ids,
        unroutable_account_ids=ids if unroutable else [],
    )
    if hours_ago:
        event.received_at = timezone.now() - timedelta(hours=hours_ago)
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=event.received_at)
    if state != State.PENDING:
        event_hours_add([("page", ids, event.received_at)])
    return event


def _url(account, name: str = "inbox:channel_health", **kwargs) -> str:
    return reverse(name, kwargs={"public_id": account.public_id, **kwargs})


def test_the_page_counts_its_events_per_hour_and_lists_its_problems(client_member, page, business):
    other_page = SocialAccountFactory(business=business, account_id="104857600999999")
    for _ in range(3):
        _event(page.account_id)
    _event(page.account_id, hours_ago=5)
    failed = _event(page.account_id, state=State.FAILED, error="IntegrityError: boom", hours_ago=1)
    unroutable = _event(page.account_id, state=State.UNROUTABLE, unroutable=True, hours_ago=2)
    _event(other_page.account_id, state=State.FAILED, error="the other page's")
    _event(page.account_id, hours_ago=72)  # before the chart's 48 hours

    health = channel_health.channel_health(account=page)
    assert health.received == 6
    assert sum(hour.problems for hour in health.hours) == 2
    assert len(health.hours) == channel_health.HOURS
    assert [e.pk for e in health.problem_events] == [failed.pk, unroutable.pk]

    html = client_member.get(_url(page)).content.decode()
    assert "IntegrityError: boom" in html and "No connected page matched" in html
    assert "the other page&#x27;s" not in html
    assert f'id="event-{failed.pk}"' in html and "Replay" in html
    assert 'id="events-data"' in html and "chart-4.5.1.umd.min.js" in html


def test_another_business_gets_a_404_for_everything(client_other, page):
    event = _event(page.account_id, state=State.FAILED)
    assert client_other.get(_url(page)).status_code == 404
    assert client_other.post(_url(page, "inbox:channel_event_replay", event_pk=event.pk)).status_code == 404
    assert client_other.post(_url(page, "inbox:channel_test_message")).status_code == 404
    event.refresh_from_db()
    assert event.state == State.FAILED


def test_a_manager_replays_a_failed_event_once(client_member, page, member):
    failed = _event(page.account_id, state=State.FAILED, error="database was down")
    failed.account_ids = []  # a failed event's ids may be only partly recorded
    failed.unroutable_account_ids = [page.account_id]
    failed.save()

    response = run_on_commit(client_member.post, _url(page, "inbox:channel_event_replay", event_pk=failed.pk))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == State.PROCESSED
    assert ChatMessage.objects.filter(account=page).count() == 1
    assert AuditEvent.objects.filter(action="webhook_event.replayed", actor=member).count() == 1

    # Applied once: a second replay of the (now processed) event is refused, and nothing doubles.
    again = client_member.post(_url(page, "inbox:channel_event_replay", event_pk=failed.pk))
    assert again.status_code == 404
    assert ChatMessage.objects.filter(account=page).count() == 1


def test_only_this_pages_problem_events_replay_and_only_for_managers(client, page, business, agent, member):
    other_page = SocialAccountFactory(business=business, account_id="104857600999999")
    theirs = _event(other_page.account_id, state=State.FAILED)
    processed = _event(page.account_id)
    ours = _event(page.account_id, state=State.FAILED)
    client.force_login(member)
    assert client.post(_url(page, "inbox:channel_event_replay", event_pk=theirs.pk)).status_code == 404
    assert client.post(_url(page, "inbox:channel_event_replay", event_pk=processed.pk)).status_code == 404
    client.force_login(agent)
    assert client.get(_url(page)).status_code == 200  # every member sees the page's health
    assert "Replay" not in client.get(_url(page)).content.decode()
    assert client.post(_url(page, "inbox:channel_event_replay", event_pk=ours.pk)).status_code == 403
    ours.refresh_from_db()
    assert ours.state == State.FAILED


def test_refused_replies_and_unstored_media_are_listed_with_the_reason(client_member, page, business):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))
    ChatMessageFactory(
        conversation=conversation,
        direction=ChatMessage.Direction.OUTBOUND,
        status=ChatMessage.Status.FAILED,
        error="(#10) This message is sent outside of allowed window.",
        error_code=10,
    )
    ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, status=ChatMessage.Status.SENT
    )
    inbound = ChatMessageFactory(conversation=conversation)
    AttachmentFactory(message=inbound, type="image", state=Attachment.State.FAILED, error="HTTP 403 from the CDN")
    other = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
    ChatMessageFactory(
        conversation=other,
        direction=ChatMessage.Direction.OUTBOUND,
        status=ChatMessage.Status.FAILED,
        error="another page's failure",
    )

    html = client_member.get(_url(page)).content.decode()
    assert "outside of allowed window" in html and "(error 10)" in html and "Giulia Bianchi" in html
    assert "HTTP 403 from the CDN" in html
    assert "another page" not in html


def test_the_page_costs_the_same_queries_whatever_the_data(client_member, page, django_assert_max_num_queries):
    client_member.get(_url(page))
    for n in range(30):
        _event(page.account_id, state=State.FAILED if n % 3 else State.PROCESSED, hours_ago=n)
    with django_assert_max_num_queries(16):
        assert client_member.get(_url(page)).status_code == 200


@pytest.mark.parametrize(
    ("days", "level"), [(40, "ok"), (10, "warning"), (4, "warning"), (3, "danger"), (1, "danger"), (-1, "danger")]
)
def test_token_expiry_is_forecast(page, days, level):
    now = timezone.now()
    page.expires_at = now + timedelta(days=days, hours=1)
    page.user_token_expires_at = None
    (page_token, user_token) = channel_health.token_forecasts(account=page, now=now)
    assert (page_token.days_left, page_token.level) == (days if days >= 0 else -1, level)
    assert user_token.expires_at is None and user_token.level == "ok"


def test_a_test_message_goes_through_the_sandbox_only_where_meta_is_the_sandbox(client_member, page, settings):
    settings.FACEBOOK_GRAPH_URL = "https://graph.facebook.com/v25.0"
    assert "Send a test message" not in client_member.get(_url(page)).content.decode()
    refused = client_member.post(_url(page, "inbox:channel_test_message"), follow=True).content.decode()
    assert "Meta is not the sandbox here" in refused

    settings.FACEBOOK_GRAPH_URL = "http://127.0.0.1:8003/sandbox/graph/v25.0"
    assert "Send a test message" in client_member.get(_url(page)).content.decode()
    with mock.patch("inbox.services.sandbox_check.requests.post") as post:
        post.return_value.status_code = 200
        done = client_member.post(_url(page, "inbox:channel_test_message"), follow=True).content.decode()
    assert "The sandbox sent a test message" in done
    (url,) = post.call_args.args
    assert url == "http://127.0.0.1:8003/sandbox/control/message"
    assert post.call_args.kwargs["json"]["page_id"] == page.account_id
    with mock.patch("inbox.services.sandbox_check.requests.post") as post:
        post.return_value.status_code = 502
        post.return_value.text = '{"error": "the webhook could not be delivered"}'
        failed = client_member.post(_url(page, "inbox:channel_test_message"), follow=True).content.decode()
    assert "The test message was not sent: the sandbox answered 502" in failed


def test_every_pages_card_links_to_its_health(client_member, page):
    html = client_member.get(reverse("social:account_list")).content.decode()
    assert _url(page) in html
