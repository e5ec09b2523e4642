"""A reply typed in Meta's apps (an echo we did not send) means the page answered: what the customer
wrote before it is read, by Meta's times, and a data migration catches up the rows stored before."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import ChatMessage, Conversation
from inbox.tests.factories import ChatMessageFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph
from inbox.tests.test_reply_order import answer, at, question, send

pytestmark = pytest.mark.django_db
fixes = importlib.import_module("inbox.migrations.0014_agent_day_fixes")


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def test_a_reply_from_metas_apps_after_the_customers_messages_makes_the_conversation_read(client, page):
    send(client, question(mid="m_b25l", offset=0), question("Hello?", mid="m_dHdv", offset=30_000))
    assert Conversation.objects.get().unread_count == 2

    send(client, answer(offset=60_000))

    conversation = Conversation.objects.get()
    assert conversation.unread_count == 0
    inbound = ChatMessage.objects.filter(direction=ChatMessage.Direction.INBOUND)
    assert set(inbound.values_list("is_read", "is_replied")) == {(True, True)}
    reply = ChatMessage.objects.get(direction=ChatMessage.Direction.OUTBOUND)
    assert reply.source == ChatMessage.Source.META


def test_what_the_customer_wrote_after_the_reply_stays_unread(client, page):
    send(client, question(mid="m_b25l", offset=0))
    send(client, answer(offset=60_000))
    send(client, question("One more thing", mid="m_bW9yZQ", offset=90_000))

    assert Conversation.objects.get().unread_count == 1
    assert ChatMessage.objects.get(message_id="m_bW9yZQ").is_read is False
    assert ChatMessage.objects.get(message_id="m_b25l").is_read is True


def test_a_late_echo_reads_only_what_came_before_it_by_metas_time(client, page):
    send(client, question(mid="m_b25l", offset=0), question("Later", mid="m_bGF0ZXI", offset=120_000))
    send(client, answer(offset=60_000))  # arrives last, written in between

    assert ChatMessage.objects.get(message_id="m_b25l").is_read is True
    assert ChatMessage.objects.get(message_id="m_bGF0ZXI").is_read is False
    assert Conversation.objects.get().unread_count == 1


def test_an_echo_answering_nothing_costs_no_recount(client, page):
    send(client, question(mid="m_b25l", offset=0))
    send(client, answer(offset=60_000))
    with CaptureQueriesContext(connection) as queries:
        send(client, answer("And see you!", mid="m_c2Vl", offset=70_000))
    # Nothing new was answered: the conversation's unread count is not recomputed.
    recounts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].upper().startswith("UPDATE") and '"unread_count" = COALESCE(' in q["sql"]
    ]
    assert recounts == []
    assert Conversation.objects.get().unread_count == 0


def test_the_migration_reads_what_metas_apps_answered_before_and_goes_back_as_a_no_op(business, page, other_page):
    answered = ConversationFactory(business=business, account=page, unread_count=3)
    for minutes in (0, 1):
        ChatMessageFactory(
            conversation=answered, direction="inbound", is_read=False, is_replied=True, timestamp=at(minutes * 60_000)
        )
    after = ChatMessageFactory(conversation=answered, direction="inbound", is_read=False, timestamp=at(300_000))
    ChatMessageFactory(conversation=answered, direction="outbound", source="meta", status="sent", timestamp=at(120_000))
    # Another business's conversation answered from our own inbox: not Meta's apps, left alone.
    ours = ConversationFactory(business=other_page.business, account=other_page, unread_count=1)
    untouched = ChatMessageFactory(conversation=ours, direction="inbound", is_read=False, timestamp=at(0))
    ChatMessageFactory(conversation=ours, direction="outbound", source="inbox", status="sent", timestamp=at(60_000))

    fixes.answered_in_metas_apps_are_read(global_apps, None)

    answered.refresh_from_db()
    assert answered.unread_count == 1
    assert list(answered.messages.filter(direction="inbound", is_read=False)) == [after]
    ours.refresh_from_db()
    assert ours.unread_count == 1
    untouched.refresh_from_db()
    assert untouched.is_read is False
    # Running it again changes nothing; going back is a no-op.
    fixes.answered_in_metas_apps_are_read(global_apps, None)
    answered.refresh_from_db()
    assert answered.unread_count == 1
    operation = fixes.Migration.operations[0]
    assert operation.reversible and operation.reverse_code is operation.noop
