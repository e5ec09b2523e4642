from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox import selectors
from inbox.selectors import ConversationFilters, cursor_decode, cursor_encode, sort_key
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_cursor_round_trips_to_the_microsecond():
    when = timezone.now().replace(microsecond=123456)
    assert cursor_decode(cursor_encode(when, 42)) == (when, 42)


@pytest.mark.parametrize("bad", ["", None, "abc", "1.2.3", "9" * 40 + ".1", ".5"])
def test_a_malformed_cursor_is_the_first_page(bad):
    assert cursor_decode(bad) is None


def test_sort_key_sorts_like_time_then_id():
    now = timezone.now()
    keys = [sort_key(now, 10), sort_key(now, 9), sort_key(now + timedelta(microseconds=1), 1)]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]


def test_conversation_list_takes_the_business_explicitly(page, other_page):
    mine = ConversationFactory(contact=ContactFactory(account=page))
    ConversationFactory(contact=ContactFactory(account=other_page))
    result = selectors.conversation_list(business=page.business)
    assert [c.pk for c in result.conversations] == [mine.pk]


def test_conversation_list_walks_every_row_once_with_ties(page):
    when = timezone.now()
    rows = [ConversationFactory(contact=ContactFactory(account=page), last_message_at=when) for _ in range(5)]
    rows += [ConversationFactory(contact=ContactFactory(account=page), last_message_at=when - timedelta(seconds=1))
             for _ in range(3)]
    seen, cursor = [], None
    while True:
        result = selectors.conversation_list(business=page.business, cursor=cursor, limit=3)
        seen += [c.pk for c in result.conversations]
        if not result.next_cursor:
            break
        cursor = result.next_cursor
    expected = sorted(rows, key=lambda c: (c.last_message_at, c.pk), reverse=True)
    assert seen == [c.pk for c in expected]


def test_account_filter_cannot_reach_another_business(page, other_page):
    ConversationFactory(contact=ContactFactory(account=other_page))
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(account_id=other_page.pk))
    assert result.conversations == []


def test_search_does_not_match_deleted_text(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), last_message_preview="")
    ChatMessageFactory(conversation=conversation, content="my secret address", is_deleted=True)
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(q="secret"))
    assert result.conversations == []


def test_message_list_pages_backwards_in_display_order(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    now = timezone.now()
    messages = [ChatMessageFactory(conversation=conversation, timestamp=now - timedelta(seconds=10 - i))
                for i in range(10)]
    newest = selectors.message_list(conversation=conversation, limit=4)
    assert [m.pk for m in newest.messages] == [m.pk for m in messages[6:]]
    older = selectors.message_list(conversation=conversation, cursor=newest.older_cursor, limit=4)
    assert [m.pk for m in older.messages] == [m.pk for m in messages[2:6]]
    oldest = selectors.message_list(conversation=conversation, cursor=older.older_cursor, limit=4)
    assert [m.pk for m in oldest.messages] == [m.pk for m in messages[:2]]
    assert oldest.older_cursor is None


def test_messages_after_is_the_catch_up(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    first = ChatMessageFactory(conversation=conversation)
    later = [ChatMessageFactory(conversation=conversation) for _ in range(3)]
    ChatMessageFactory()  # another conversation
    assert [m.pk for m in selectors.messages_after(conversation=conversation, after_id=first.pk)] == [
        m.pk for m in later
    ]


def test_counters_count_only_unread_conversations_per_page(page, other_page):
    ConversationFactory(contact=ContactFactory(account=page), unread_count=3)
    ConversationFactory(contact=ContactFactory(account=page), unread_count=1)
    ConversationFactory(contact=ContactFactory(account=page))
    ConversationFactory(contact=ContactFactory(account=other_page), unread_count=7)
    counters = selectors.inbox_counters(business=page.business)
    [row] = counters.accounts
    assert (row.account, row.unread_conversations) == (page, 2)
    assert counters.unread_conversations == 2 and not counters.capped


def test_counters_stop_at_the_cap(page, monkeypatch):
    monkeypatch.setattr(selectors, "UNREAD_COUNT_CAP", 3)
    for _ in range(5):
        ConversationFactory(contact=ContactFactory(account=page), unread_count=1)
    counters = selectors.inbox_counters(business=page.business)
    assert counters.accounts[0].unread_conversations == 3
    assert counters.capped


def test_disconnected_pages_leave_the_navigation(page):
    page.status = "disconnected"
    page.save(update_fields=["status"])
    assert selectors.inbox_counters(business=page.business).accounts == []
