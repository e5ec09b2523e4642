"""Replied and unread by message time: the page's reply may arrive before the message it answers.

The bodies are built with the sandbox's Meta-shaped builders (``sandbox.payloads``): no published
capture pairs an echo with the earlier customer message it answers, so each pair is two bodies of
the published shapes (a customer's text message, an echo typed in Meta's apps) with our own ids
and times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from inbox.models import ChatMessage, Conversation, WebhookEvent
from inbox.tests.factories import ChatMessageFactory
from inbox.tests.helpers import PAGE_ID, PSID, FakeGraph, post_webhook, process_at_once
from sandbox import payloads as p
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

BASE = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp() * 1000)
QUESTION_MID = "m_cXVlc3Rpb24"
ANSWER_MID = "m_YW5zd2Vy"


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def at(offset_ms: int) -> datetime:
    return datetime.fromtimestamp((BASE + offset_ms) / 1000, tz=UTC)


def send(client, *items):
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))
    assert post_webhook(client, body).status_code == 200
    event = WebhookEvent.objects.order_by("-pk").first()
    assert event.state == WebhookEvent.State.PROCESSED, event.last_error
    return event


def question(text="Do you deliver on Sundays?", *, mid=QUESTION_MID, offset=0):
    return p.text_message(page_id=PAGE_ID, psid=PSID, text=text, mid=mid, timestamp_ms=BASE + offset)


def answer(text="Yes, until noon.", *, mid=ANSWER_MID, offset=60_000):
    # No app_id: typed in Meta Business Suite, the reply that is stored from its echo.
    return p.echo(page_id=PAGE_ID, psid=PSID, text=text, mid=mid, timestamp_ms=BASE + offset)


def test_a_message_arriving_after_the_reply_that_answers_it_is_answered_and_not_unread(client, page):
    send(client, answer())
    send(client, question())

    message = ChatMessage.objects.get(message_id=QUESTION_MID)
    assert message.is_replied is True
    assert message.is_read is True
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 0
    # The list row stays on the newest message by Meta's time: the reply.
    assert conversation.last_message_at == at(60_000)
    assert conversation.last_message_direction == ChatMessage.Direction.OUTBOUND
    assert conversation.last_message_preview == "Yes, until noon."
    # The reply window still counts from the customer's message.
    assert conversation.last_inbound_at == at(0)


def test_the_same_when_reply_and_message_come_in_one_body_in_that_order(client, page):
    send(client, answer(), question())

    assert ChatMessage.objects.get(message_id=QUESTION_MID).is_replied is True
    assert Conversation.objects.get().unread_count == 0


def test_a_late_answered_message_does_not_reopen_a_resolved_conversation(client, page):
    send(client, answer())
    Conversation.objects.update(status=Conversation.Status.RESOLVED)
    send(client, question())

    assert Conversation.objects.get().status == Conversation.Status.RESOLVED


def test_a_newer_message_after_the_reply_is_unread_and_not_replied(client, page):
    send(client, answer())
    send(client, question("And on holidays?", mid="m_bGF0ZXI", offset=120_000))

    message = ChatMessage.objects.get(message_id="m_bGF0ZXI")
    assert message.is_replied is False
    assert message.is_read is False
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 1
    assert conversation.last_message_direction == ChatMessage.Direction.INBOUND
    assert conversation.status == Conversation.Status.OPEN


def test_a_batch_counts_only_the_messages_newer_than_the_reply(client, page):
    send(client, answer())
    send(client, question(mid="m_b2xkZXI", offset=0), question("Thanks!", mid="m_bmV3ZXI", offset=90_000))

    assert ChatMessage.objects.get(message_id="m_b2xkZXI").is_replied is True
    assert ChatMessage.objects.get(message_id="m_bmV3ZXI").is_replied is False
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 1
    assert conversation.last_message_preview == "Thanks!"
    assert conversation.last_inbound_at == at(90_000)


def test_an_echo_older_than_the_latest_message_answers_only_what_came_before_it(client, page):
    send(client, question(mid="m_Zmlyc3Q", offset=0), question("Hello?", mid="m_c2Vjb25k", offset=120_000))
    send(client, answer(offset=60_000))

    assert ChatMessage.objects.get(message_id="m_Zmlyc3Q").is_replied is True
    assert ChatMessage.objects.get(message_id="m_c2Vjb25k").is_replied is False
    conversation = Conversation.objects.get()
    # The page answered the first one: only the message written after the reply is unread.
    assert conversation.unread_count == 1
    assert conversation.last_message_direction == ChatMessage.Direction.INBOUND
    assert conversation.last_message_preview == "Hello?"


def test_a_reply_that_was_not_sent_answers_nothing(client, page):
    send(client, question(mid="m_Zmlyc3Q", offset=0))
    conversation = Conversation.objects.get()
    ChatMessageFactory(
        conversation=conversation,
        direction=ChatMessage.Direction.OUTBOUND,
        status=ChatMessage.Status.FAILED,
        message_id=None,
        timestamp=at(60_000),
    )
    send(client, question("Anyone?", mid="m_bGF0ZQ", offset=30_000))

    assert ChatMessage.objects.get(message_id="m_bGF0ZQ").is_replied is False
    conversation.refresh_from_db()
    assert conversation.unread_count == 2


def test_redelivering_both_changes_nothing(client, page):
    send(client, answer())
    send(client, question())
    before = list(Conversation.objects.values("unread_count", "last_message_at", "last_message_direction"))
    send(client, question())
    send(client, answer())

    assert list(Conversation.objects.values("unread_count", "last_message_at", "last_message_direction")) == before
    assert ChatMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_a_reply_and_the_message_it_answers_applied_by_two_workers_at_once():
    from accounts.tests.factories import BusinessFactory

    SocialAccountFactory(business=BusinessFactory(), account_id=PAGE_ID)
    events = [
        WebhookEvent.objects.create(
            body=p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=[item])]))
        )
        for item in (answer(), question())
    ]
    errors = process_at_once(*(event.pk for event in events))

    assert errors == []
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    # Whichever worker commits first, the message ends answered: either it saw the reply, or the
    # reply saw it. Its unread count is that of one order or the other, never lost or doubled.
    assert ChatMessage.objects.get(message_id=QUESTION_MID).is_replied is True
    conversation = Conversation.objects.get()
    assert conversation.unread_count in (0, 1)
    assert conversation.last_message_direction == ChatMessage.Direction.OUTBOUND
