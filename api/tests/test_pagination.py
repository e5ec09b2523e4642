"""Cursor pagination: every row exactly once, and rows added meanwhile neither shift nor repeat pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def _walk(api, path, params=None):
    seen, cursor, pages = [], None, 0
    while True:
        answer = api.get(path, {**(params or {}), **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        seen += [row["id"] for row in body["data"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return seen, pages


def test_conversations_walk_newest_first_stable_under_inserts(api, page):
    now = timezone.now()
    same_time = now - timedelta(minutes=30)
    rows = [
        ConversationFactory(contact=ContactFactory(account=page), last_message_at=same_time if i < 3 else
                            now - timedelta(minutes=i))
        for i in range(7)
    ]
    first = api.get("/conversations", {"limit": 3}).json()
    assert len(first["data"]) == 3 and first["nextCursor"]
    # A new conversation arrives between pages: it is at the top, so the walk onwards does not repeat.
    newcomer = ConversationFactory(contact=ContactFactory(account=page), last_message_at=now + timedelta(seconds=1))
    rest, _ = _walk(api, "/conversations", {"limit": 3, "cursor": first["nextCursor"]})
    walked = [row["id"] for row in first["data"]] + rest
    assert sorted(walked) == sorted(str(c.public_id) for c in rows)
    assert len(walked) == len(set(walked)) == 7
    assert str(newcomer.public_id) not in walked
    ordered = sorted(rows, key=lambda c: (c.last_message_at, c.pk), reverse=True)
    assert walked == [str(c.public_id) for c in ordered]


def test_messages_walk_every_message_once(api, conversation):
    now = timezone.now()
    for i in range(5):
        ChatMessageFactory(conversation=conversation, timestamp=now - timedelta(seconds=i % 2))
    walked, pages = _walk(api, f"/conversations/{conversation.public_id}/messages", {"limit": 2})
    assert len(walked) == len(set(walked)) == conversation.messages.count() == 6
    assert pages == 3


def test_a_cursor_of_another_list_is_refused(api, conversation, page):
    for _ in range(3):
        ChatMessageFactory(conversation=conversation)
    cursor = api.get(f"/conversations/{conversation.public_id}/messages", {"limit": 1}).json()["nextCursor"]
    answer = api.get("/conversations", {"cursor": cursor})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_cursor"


def test_updated_since_filter(api, conversation, page):
    from inbox.models import Conversation

    old = ConversationFactory(contact=ContactFactory(account=page))
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    ids = [c["id"] for c in api.get("/conversations", {"updated_since": since}).json()["data"]]
    assert ids == [str(conversation.public_id)]


def test_list_queries_do_not_grow_with_the_page(api, page, conversation):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(path):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(path, {"limit": 50}).status_code == 200
        return len(queries)

    count("/conversations")  # the key's first use of the minute also stamps its last_used_at
    few_conversations = count("/conversations")
    few_messages = count(f"/conversations/{conversation.public_id}/messages")
    for _ in range(12):
        ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)))
        ChatMessageFactory(conversation=conversation)
    assert count("/conversations") == few_conversations
    assert count(f"/conversations/{conversation.public_id}/messages") == few_messages
