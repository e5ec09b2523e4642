"""Each conversation's search text (``ConversationSearchText``), kept by PostgreSQL's triggers, and the
search that walks it: every way a message's text is written reaches it, and a match there is never
listed without a message that really holds the text."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inbox import selectors
from inbox.models import ChatMessage, Conversation, ConversationSearchText
from inbox.selectors import ConversationFilters
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's")

migration = importlib.import_module("inbox.migrations.0026_conversation_search_text")


def _texts(conversation: Conversation) -> list[str]:
    return list(ConversationSearchText.objects.filter(conversation=conversation).order_by("chunk")
                .values_list("text", flat=True))


def _walked(business, q: str, **kwargs) -> list[int]:
    """The search's result; with the `walk` fixture, by its newest-first walk (the plan that reads the search text)."""
    return [c.pk for c in selectors.conversation_list(business=business, filters=ConversationFilters(q=q),
                                                      **kwargs).conversations]


@pytest.fixture
def walk(monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 1)
    monkeypatch.setattr(selectors, "SEARCH_WALK_FROM", 0)


@on_postgres
def test_stored_messages_add_their_text_upper_cased_in_order(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    other = ConversationFactory(contact=ContactFactory(account=page))
    ChatMessageFactory(conversation=conversation, content="Where is my parcel?")
    # Several rows in one INSERT, for two conversations (the drain's bulk insert), and an empty text.
    ChatMessage.objects.bulk_create([
        ChatMessageFactory.build(conversation=conversation, content="Tracking ZX-9"),
        ChatMessageFactory.build(conversation=other, content="Grüße aus Köln"),
        ChatMessageFactory.build(conversation=conversation, content=""),
        ChatMessageFactory.build(conversation=conversation, content="danke"),
    ])
    assert _texts(conversation) == ["WHERE IS MY PARCEL?\nTRACKING ZX-9\nDANKE"]
    with connection.cursor() as cursor:  # upper-cased as the search's UPPER(pattern) is, by the database
        cursor.execute("SELECT upper(%s)", ["Grüße aus Köln"])
        assert _texts(other) == [cursor.fetchone()[0]]


@on_postgres
def test_an_edit_or_a_move_adds_the_new_text_and_a_status_change_adds_nothing(page):
    first = ConversationFactory(contact=ContactFactory(account=page))
    second = ConversationFactory(contact=ContactFactory(account=page))
    message = ChatMessageFactory(conversation=first, content="old words")
    message.status = "read"
    message.save()
    ChatMessage.objects.filter(pk=message.pk).update(is_replied=True)
    assert _texts(first) == ["OLD WORDS"]
    message.content = "new words"
    message.save(update_fields=["content"])
    assert _texts(first) == ["OLD WORDS\nNEW WORDS"]
    ChatMessage.objects.filter(pk=message.pk).update(conversation=second)
    assert _texts(second) == ["NEW WORDS"]
    ChatMessage.objects.filter(pk=message.pk).update(content="")  # purged: nothing to add
    assert (_texts(first), _texts(second)) == (["OLD WORDS\nNEW WORDS"], ["NEW WORDS"])


@on_postgres
@pytest.mark.parametrize("inserts", ["one by one", "in one statement"])
def test_long_conversations_roll_over_into_short_rows(page, inserts):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    texts = [f"message {index:03d} " + "x" * 90 for index in range(60)]
    if inserts == "one by one":
        for text in texts:
            ChatMessageFactory(conversation=conversation, content=text)
    else:  # an import, or a drain's batch from a chatty customer
        ChatMessageFactory(conversation=conversation, content=texts[0])
        ChatMessage.objects.bulk_create([ChatMessageFactory.build(conversation=conversation, content=text)
                                         for text in texts[1:]])
    rows = _texts(conversation)
    assert len(rows) >= len("\n".join(texts)) // migration.CHUNK_BYTES
    assert all(len(row.encode()) <= migration.CHUNK_BYTES + 101 for row in rows)  # + the text crossing the line
    assert "\n".join(rows) == "\n".join(text.upper() for text in texts)


@on_postgres
def test_the_migrations_rebuild_matches_what_the_triggers_wrote(page):
    conversations = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(3)]
    for index in range(40):
        ChatMessageFactory(conversation=conversations[index % 3], content=f"text {index} " + "y" * (index * 7))
    kept = sorted(ConversationSearchText.objects.values_list("conversation_id", "text"))
    ConversationSearchText.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(migration.REBUILD)
    rebuilt = sorted(ConversationSearchText.objects.values_list("conversation_id", "text"))

    def joined(rows):
        return {cid: "\n".join(text for c, text in rows if c == cid) for cid, _ in rows}

    assert joined(rebuilt) == joined(kept)


@on_postgres
def test_deleting_a_conversation_deletes_its_search_text(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    ChatMessageFactory(conversation=conversation, content="hello")
    conversation.delete()
    assert not ConversationSearchText.objects.exists()


def test_the_walk_finds_text_from_any_part_of_a_long_conversation(page, walk):
    now = timezone.now()
    long = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), last_message_at=now)
    for index in range(60):
        ChatMessageFactory(conversation=long, content=f"note {index:03d} " + "z" * 90)
    ConversationFactory(contact=ContactFactory(account=page, name="Bo"), last_message_at=now - timedelta(minutes=1))
    assert _walked(page.business, "NOTE 000") == [long.pk]
    assert _walked(page.business, "note 059") == [long.pk]


def test_text_edited_or_deleted_away_is_not_found_although_it_was_once_stored(page, walk):
    edited = ConversationFactory(contact=ContactFactory(account=page, name="Anna"))
    message = ChatMessageFactory(conversation=edited, content="my parcel is late")
    message.content = "all fine now"
    message.save(update_fields=["content"])
    deleted = ConversationFactory(contact=ContactFactory(account=page, name="Bo"))
    gone = ChatMessageFactory(conversation=deleted, content="parcel number 42")
    ChatMessage.objects.filter(pk=gone.pk).update(is_deleted=True)
    moved = ConversationFactory(contact=ContactFactory(account=page, name="Cy"))
    ChatMessageFactory(conversation=moved, content="parcel again")
    ChatMessage.objects.filter(conversation=moved).update(conversation=edited)
    assert _walked(page.business, "parcel") == [edited.pk]  # by the moved message, not the edited one
    assert _walked(page.business, "fine") == [edited.pk]
    ChatMessage.objects.filter(conversation=edited, content="parcel again").delete()
    assert _walked(page.business, "parcel") == []
