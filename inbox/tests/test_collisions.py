"""Reply collisions: a reply is held when someone else answered since the page was loaded."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage
from inbox.services.collisions import reply_collision, seen_message_id
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sara(business):
    return MembershipFactory(business=business, user__name="Sara", role="agent").user


@pytest.fixture
def conversation(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_inbound_at=timezone.now())
    ChatMessageFactory(conversation=conversation, content="Is the cake ready?")
    return conversation


def _outbound(conversation, *, by=None, source="inbox", seconds_ago=20) -> ChatMessage:
    return ChatMessageFactory(
        conversation=conversation,
        direction="outbound",
        source=source,
        sent_by=by,
        status="sent",
        timestamp=timezone.now() - timedelta(seconds=seconds_ago),
    )


def _seen(conversation) -> int:
    return ChatMessage.objects.filter(conversation=conversation).order_by("-pk").values_list("pk", flat=True)[0]


# --- the service ---------------------------------------------------------------------------------------


def test_a_teammates_reply_after_what_was_seen_is_a_collision(conversation, member, sara):
    seen = _seen(conversation)
    reply = _outbound(conversation, by=sara)
    with CaptureQueriesContext(connection) as queries:
        collision = reply_collision(conversation=conversation, user=member, seen_id=seen)
    assert len(queries) == 1
    assert collision is not None and collision.message_id == reply.pk
    assert collision.warning() == "Sara replied 20 s ago — read it, then send again."


def test_own_replies_notes_inbound_and_earlier_replies_are_not(conversation, member, sara):
    _outbound(conversation, by=sara)  # before the page was loaded
    seen = _seen(conversation)
    _outbound(conversation, by=member)  # the member's own (another tab)
    ChatMessageFactory(conversation=conversation, direction="inbound")
    ChatMessageFactory(conversation=conversation, direction="internal", kind="note", sent_by=sara)
    assert reply_collision(conversation=conversation, user=member, seen_id=seen) is None


def test_a_reply_from_metas_apps_counts(conversation, member):
    seen = _seen(conversation)
    _outbound(conversation, by=None, source="meta", seconds_ago=90)
    collision = reply_collision(conversation=conversation, user=member, seen_id=seen)
    assert collision is not None and collision.warning().startswith("Someone using Meta's apps replied 1")


def test_another_conversations_reply_is_not(conversation, member, sara, page):
    seen = _seen(conversation)
    _outbound(ConversationFactory(contact=ContactFactory(account=page)), by=sara)
    assert reply_collision(conversation=conversation, user=member, seen_id=seen) is None


@pytest.mark.parametrize("value", [None, "", "abc", "-1", "1.5", "9" * 30, ["1"]])
def test_a_missing_or_bad_seen_is_never_held(value):
    assert seen_message_id(value) is None


# --- the view --------------------------------------------------------------------------------------------


def test_reply_after_a_teammates_is_held_with_send_anyway(client_member, member, sara, conversation):
    seen = _seen(conversation)
    _outbound(conversation, by=sara)
    with mock.patch("inbox.tasks.message_send.apply_async") as delay:
        response = client_member.post(
            reverse("inbox:reply", args=[conversation.public_id]), {"text": "Yes, at 4pm", "seen": str(seen)}, **HTMX
        )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Sara replied" in html and "Send anyway" in html and 'name="confirm_collision"' in html
    assert "Yes, at 4pm" in html  # the text is kept
    newest = ChatMessage.objects.filter(conversation=conversation, sent_by=sara).get().pk
    assert f'name="seen" value="{newest}"' in html
    assert not ChatMessage.objects.filter(conversation=conversation, sent_by=member).exists()
    delay.assert_not_called()


def test_send_anyway_sends(client_member, member, sara, conversation, django_capture_on_commit_callbacks):
    seen = _seen(conversation)
    _outbound(conversation, by=sara)
    with mock.patch("inbox.tasks.message_send.apply_async"), django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(
            reverse("inbox:reply", args=[conversation.public_id]),
            {"text": "Yes, at 4pm", "seen": str(seen), "confirm_collision": "1"},
            **HTMX,
        )
    assert response.status_code == 200
    assert ChatMessage.objects.filter(conversation=conversation, sent_by=member, content="Yes, at 4pm").exists()


def test_reply_without_a_collision_is_sent(client_member, member, sara, conversation):
    _outbound(conversation, by=sara)
    with mock.patch("inbox.tasks.message_send.apply_async"):
        response = client_member.post(
            reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hi", "seen": str(_seen(conversation))}, **HTMX
        )
    assert response.status_code == 200


def test_the_detail_page_carries_the_newest_message(client_member, conversation):
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert f'name="seen" value="{_seen(conversation)}"' in html
    assert f'data-presence-for="{conversation.pk}"' in html


def test_another_business_conversation_is_404(client_other, conversation):
    response = client_other.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hi", "seen": "0"}, **HTMX)
    assert response.status_code == 404
