"""insert_ignoring_conflicts: many rows, some already stored, in chunks the database accepts."""

from __future__ import annotations

import pytest

from inbox.models import Contact
from inbox.services.rows import insert_ignoring_conflicts

pytestmark = pytest.mark.django_db


def contacts(page, ids: range) -> list[Contact]:
    return [
        Contact(business_id=page.business_id, account=page, platform=page.platform, external_id=f"71{n:05d}")
        for n in ids
    ]


def test_only_the_new_rows_are_inserted_and_returned_across_chunks(page):
    insert_ignoring_conflicts(contacts(page, range(0, 10)), returning=("pk",))
    rows = contacts(page, range(0, 1000))  # more rows than one INSERT may carry on SQLite (999 parameters)

    inserted = insert_ignoring_conflicts(rows, returning=("pk", "external_id"))

    assert sorted(external_id for _, external_id in inserted) == [f"71{n:05d}" for n in range(10, 1000)]
    assert Contact.objects.filter(account=page).count() == 1000
    stored = dict(Contact.objects.filter(account=page).values_list("external_id", "pk"))
    assert all(stored[external_id] == pk for pk, external_id in inserted)
    # auto_now_add is filled in as save() would.
    assert not Contact.objects.filter(account=page, created_at__isnull=True).exists()


def test_nothing_to_insert():
    assert insert_ignoring_conflicts([], returning=("pk",)) == []
