from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import ChatMessage, Conversation
from inbox.services import conversations as services
from inbox.services.conversations import ConversationError
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page), unread_count=2)


@pytest.fixture
def published():
    with mock.patch("inbox.services.conversations.publish_on_commit") as publish:
        yield publish


def _audited(action: str, conversation: Conversation, member) -> bool:
    return AuditEvent.objects.filter(
        action=action, target_id=str(conversation.pk), actor=member, business=conversation.business
    ).exists()


def test_mark_read_marks_inbound_messages_and_clears_the_count(
    conversation, member, published, django_capture_on_commit_callbacks
):
    unread = [ChatMessageFactory(conversation=conversation, is_read=False) for _ in range(2)]
    outbound = ChatMessageFactory(conversation=conversation, direction="outbound", is_read=False)
    with mock.patch("inbox.tasks.conversation_mark_seen.apply_async") as seen, django_capture_on_commit_callbacks(
        execute=True
    ):
        assert services.conversation_mark_read(conversation=conversation, user=member) == 2
    for message in unread:
        message.refresh_from_db()
        assert message.is_read and message.read_by == member and message.read_at is not None
    outbound.refresh_from_db()
    assert outbound.is_read is False
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    assert _audited("conversation.read", conversation, member)
    published.assert_called_once_with(business_id=conversation.business_id, conversation_ids=[conversation.pk])
    seen.assert_called_once()
    assert seen.call_args.args[0] == (conversation.pk,)


def test_mark_read_with_nothing_unread_writes_nothing(conversation, member, published):
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    ChatMessageFactory(conversation=conversation, is_read=True)
    assert services.conversation_mark_read(conversation=conversation, user=member) == 0
    assert not AuditEvent.objects.filter(action="conversation.read").exists()
    published.assert_not_called()


def test_mark_seen_can_be_turned_off(conversation, member, published, settings, django_capture_on_commit_callbacks):
    settings.INBOX_SEND_MARK_SEEN = False
    ChatMessageFactory(conversation=conversation, is_read=False)
    with mock.patch("inbox.tasks.conversation_mark_seen.apply_async") as seen, django_capture_on_commit_callbacks(
        execute=True
    ):
        services.conversation_mark_read(conversation=conversation, user=member)
    seen.assert_not_called()


def test_send_seen_calls_meta_inside_the_window_and_swallows_errors(conversation):
    from social.graph import TransientGraphError

    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    with mock.patch("social.graph.GraphClient.send_sender_action") as action:
        assert services.conversation_send_seen(conversation_id=conversation.pk) is True
    action.assert_called_once_with(recipient_id=conversation.contact.external_id, action="mark_seen")
    with mock.patch("social.graph.GraphClient.send_sender_action", side_effect=TransientGraphError("down")):
        assert services.conversation_send_seen(conversation_id=conversation.pk) is False
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=3))
    with mock.patch("social.graph.GraphClient.send_sender_action") as action:
        assert services.conversation_send_seen(conversation_id=conversation.pk) is False
    action.assert_not_called()


def test_mark_unread_makes_the_latest_customer_message_unread(conversation, member, published):
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    older = ChatMessageFactory(conversation=conversation, is_read=True, timestamp=timezone.now() - timedelta(hours=1))
    latest = ChatMessageFactory(conversation=conversation, is_read=True, read_by=member)
    ChatMessageFactory(conversation=conversation, direction="outbound", timestamp=timezone.now() + timedelta(seconds=1))
    services.conversation_mark_unread(conversation=conversation, user=member)
    conversation.refresh_from_db()
    latest.refresh_from_db()
    older.refresh_from_db()
    assert conversation.unread_count == 1
    assert latest.is_read is False and latest.read_by is None
    assert older.is_read is True
    assert _audited("conversation.unread", conversation, member)
    published.assert_called_once()


def test_resolve_and_reopen(conversation, member, published):
    resolved = services.conversation_resolve(conversation=conversation, user=member)
    assert resolved.status == Conversation.Status.RESOLVED
    assert _audited("conversation.resolved", conversation, member)
    services.conversation_resolve(conversation=conversation, user=member)  # already resolved: no event
    assert AuditEvent.objects.filter(action="conversation.resolved").count() == 1
    reopened = services.conversation_reopen(conversation=conversation, user=member)
    assert reopened.status == Conversation.Status.OPEN
    assert _audited("conversation.reopened", conversation, member)
    assert published.call_count == 2


def test_set_priority(conversation, member, published):
    changed = services.conversation_set_priority(conversation=conversation, user=member, priority="urgent")
    assert changed.priority == "urgent"
    event = AuditEvent.objects.get(action="conversation.priority_changed")
    assert event.metadata == {"from": "none", "to": "urgent"}
    with pytest.raises(ConversationError):
        services.conversation_set_priority(conversation=conversation, user=member, priority="asap")
    published.assert_called_once()


def test_changes_do_not_overwrite_what_ingest_wrote_meanwhile(conversation, member, published):
    # The page's copy is stale: a message arrived (unread 5, newer time) after it was loaded.
    newer = timezone.now() + timedelta(minutes=1)
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=5, last_message_at=newer)
    services.conversation_resolve(conversation=conversation, user=member)
    services.conversation_set_priority(conversation=conversation, user=member, priority="high")
    row = Conversation.objects.get(pk=conversation.pk)
    assert (row.unread_count, row.last_message_at, row.status, row.priority) == (5, newer, "resolved", "high")


def test_nothing_is_pushed_when_the_change_rolls_back(conversation, member, django_capture_on_commit_callbacks):
    from django.db import transaction

    with (
        mock.patch("inbox.realtime.publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.conversation_resolve(conversation=conversation, user=member)
        raise RuntimeError("rolled back")
    publish.assert_not_called()
    assert ChatMessage.objects.count() == 0
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_the_migration_adds_the_page_to_the_participants_and_takes_it_away_again(page):
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("inbox.migrations.0011_participants_include_the_page")
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))
    # A row as it was stored before: the customer only.
    Conversation.objects.filter(pk=conversation.pk).update(
        participant_ids=[conversation.contact.external_id], participant_names=["Giulia Bianchi"]
    )

    migration.forwards(django_apps, None)
    conversation.refresh_from_db()
    assert conversation.participant_ids == [conversation.contact.external_id, page.account_id]
    assert conversation.participant_names == ["Giulia Bianchi", page.account_name]

    migration.backwards(django_apps, None)
    conversation.refresh_from_db()
    assert (conversation.participant_ids, conversation.participant_names) == (
        [conversation.contact.external_id],
        ["Giulia Bianchi"],
    )
