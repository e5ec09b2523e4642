"""Alerts: pushed to the concerned members only, as each chose, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Conversation
from inbox.realtime import member_group
from inbox.services import alerts
from inbox.services.notes import note_create
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sara(business):
    return MembershipFactory(business=business, user__name="Sara", role="agent").user


@pytest.fixture
def pushes():
    """What was sent to members' groups: (group, html)."""
    sent: list[tuple[str, str]] = []

    def fake_send(group, event):
        sent.append((group, event["html"]))

    with (
        mock.patch("config.channel_send.has_layer", return_value=True),
        mock.patch("config.channel_send.group_send", side_effect=fake_send),
    ):
        yield sent


def _message(conversation, **kwargs) -> ChatMessage:
    return ChatMessageFactory(conversation=conversation, direction="inbound", content="Is it ready?", **kwargs)


def _new_conversation(page, name="Giulia", **kwargs) -> Conversation:
    return ConversationFactory(contact=ContactFactory(account=page, name=name), **kwargs)


def test_a_new_conversation_alerts_every_member_who_wants_it(business, member, sara, other_member, page, pushes):
    Membership.objects.filter(user=sara).update(notify_new_conversations=False)
    message = _message(_new_conversation(page))
    assert alerts.alerts_publish(business_id=business.pk, message_ids=[message.pk]) == 1
    assert [group for group, _ in pushes] == [member_group(business.pk, member.pk)]
    html = pushes[0][1]
    assert 'data-kind="new_conversation"' in html and "New conversation · Giulia" in html
    assert 'data-body="Is it ready?"' in html and f'data-url="/inbox/c/{message.conversation.public_id}/"' in html
    assert "data-sound" not in html  # sound is off unless chosen


def test_a_message_in_an_assigned_conversation_alerts_the_assignee_only(business, member, sara, page, pushes):
    conversation = _new_conversation(page, assignee=sara)
    # An older conversation: its first message was long ago.
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - timedelta(days=1))
    Membership.objects.filter(user=sara).update(notify_sound=True)
    message = _message(conversation)
    alerts.alerts_publish(business_id=business.pk, message_ids=[message.pk])
    assert [group for group, _ in pushes] == [member_group(business.pk, sara.pk)]
    assert 'data-kind="assigned_message"' in pushes[0][1] and 'data-sound="1"' in pushes[0][1]


def test_assigned_alerts_can_be_turned_off(business, member, sara, page, pushes):
    conversation = _new_conversation(page, assignee=sara)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - timedelta(days=1))
    Membership.objects.filter(user=sara).update(notify_assigned_messages=False)
    alerts.alerts_publish(business_id=business.pk, message_ids=[_message(conversation).pk])
    assert pushes == []


def test_old_outbound_edited_and_other_business_messages_do_not_alert(business, member, page, other_page, pushes):
    conversation = _new_conversation(page)
    outbound = ChatMessageFactory(conversation=conversation, direction="outbound")
    edited = _message(conversation, edit_count=1)
    note = ChatMessageFactory(conversation=conversation, direction="internal", kind="note")
    old = _message(conversation)
    ChatMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    theirs = _message(_new_conversation(other_page))
    ids = [outbound.pk, edited.pk, note.pk, old.pk, theirs.pk]
    assert alerts.alerts_publish(business_id=business.pk, message_ids=ids) == 0
    assert pushes == []


def test_queries_do_not_grow_with_members_or_messages(business, page, django_assert_num_queries):
    for _ in range(5):
        MembershipFactory(business=business)
    ids = [_message(_new_conversation(page, name=f"C{i}")).pk for i in range(6)]
    with CaptureQueriesContext(connection) as queries:
        found = alerts.message_alerts(business_id=business.pk, message_ids=ids)
    assert len(queries) == 2
    assert len(found) == 5 and all(len(items) == 6 for items in found.values())
    # Nothing new (receipts, echoes): one query, and the members are not read.
    with django_assert_num_queries(1):
        assert alerts.message_alerts(business_id=business.pk, message_ids=[10**9]) == {}
    with django_assert_num_queries(0):
        assert alerts.message_alerts(business_id=business.pk, message_ids=[]) == {}


def test_a_mention_alerts_the_mentioned_member_as_they_chose(
    business, member, sara, page, pushes, django_capture_on_commit_callbacks
):
    conversation = _new_conversation(page)
    with django_capture_on_commit_callbacks(execute=True):
        note_create(conversation=conversation, user=member, text="@Sara can you take this one?")
    alerts_sent = [(g, html) for g, html in pushes if "data-alert" in html]
    assert [g for g, _ in alerts_sent] == [member_group(business.pk, sara.pk)]
    assert 'data-kind="mention"' in alerts_sent[0][1] and "can you take this one?" in alerts_sent[0][1]

    pushes.clear()
    Membership.objects.filter(user=sara).update(notify_mentions=False)
    with django_capture_on_commit_callbacks(execute=True):
        note_create(conversation=conversation, user=member, text="@Sara again")
    assert not [html for _, html in pushes if "data-alert" in html]
    assert any("notification-bell" in html or "bell" in html for _, html in pushes)  # the bell still counts


def test_alert_text_is_escaped(business, member, page, pushes):
    message = ChatMessageFactory(
        conversation=_new_conversation(page, name='<b>"x"</b>'), direction="inbound", content='"><script>1</script>'
    )
    alerts.alerts_publish(business_id=business.pk, message_ids=[message.pk])
    html = pushes[0][1]
    assert "<script>" not in html and "<b>" not in html


def test_ingest_pushes_alerts_after_commit(business, member, page, pushes, django_capture_on_commit_callbacks):
    message = _message(_new_conversation(page))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alerts.alerts_publish_on_commit(business_id=business.pk, message_ids=[message.pk])
    assert pushes == [] and len(callbacks) == 1
    callbacks[0]()
    assert [group for group, _ in pushes] == [member_group(business.pk, member.pk)]
