"""insert_ignoring_conflicts: many rows, some already stored, in chunks the database accepts."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from inbox.ingest.rows import insert_ignoring_conflicts
from inbox.models import ChatMessage, Contact
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def contacts(page, ids: range) -> list[dict]:
    return [
        {"business_id": page.business_id, "account_id": page.pk, "platform": page.platform, "external_id": f"71{n:05d}"}
        for n in ids
    ]


def insert_contacts(rows: list[dict], returning: tuple[str, ...] = ("pk",)) -> list[tuple]:
    return insert_ignoring_conflicts(Contact, rows, conflict=("account", "external_id"), returning=returning)


def test_only_the_new_rows_are_inserted_and_returned_across_chunks(page):
    insert_contacts(contacts(page, range(0, 10)))
    rows = contacts(page, range(0, 1000))  # more rows than one INSERT may carry on SQLite (999 parameters)

    inserted = insert_contacts(rows, returning=("pk", "external_id"))

    assert sorted(external_id for _, external_id in inserted) == [f"71{n:05d}" for n in range(10, 1000)]
    assert Contact.objects.filter(account=page).count() == 1000
    stored = dict(Contact.objects.filter(account=page).values_list("external_id", "pk"))
    assert all(stored[external_id] == pk for pk, external_id in inserted)
    # Defaults and auto_now_add are filled in as save() would.
    assert not Contact.objects.filter(account=page, created_at__isnull=True).exists()
    assert set(Contact.objects.values_list("profile_state", "name")) == {(Contact.ProfileState.PENDING, "")}


def test_json_and_time_values_are_stored_as_the_orm_stores_them(page):
    message = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)), message_id="m_1")
    row = {
        "business_id": page.business_id, "platform": page.platform, "account_id": page.pk,
        "conversation_id": message.conversation_id, "message_id": "m_2", "timestamp": message.timestamp,
        "extra": {"emoji": "🙂", "nested": [1, None]}, "media_urls": ["https://example.com/a"],
    }
    ((pk,),) = insert_ignoring_conflicts(ChatMessage, [row], conflict=("account", "message_id"), returning=("pk",))
    stored = ChatMessage.objects.get(pk=pk)
    assert (stored.extra, stored.media_urls, stored.timestamp) == (row["extra"], row["media_urls"], message.timestamp)


def test_another_constraint_failure_is_not_swallowed(page):
    """Only the named key's conflict means "already stored"; anything else is an error."""
    insert_contacts(contacts(page, range(0, 1)))
    broken = {**contacts(page, range(1, 2))[0], "business_id": None}
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_contacts([broken])
    assert Contact.objects.filter(account=page).count() == 1


def test_nothing_to_insert():
    assert insert_ignoring_conflicts(Contact, [], conflict=("account", "external_id"), returning=("pk",)) == []
