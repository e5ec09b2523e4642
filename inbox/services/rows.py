"""Inserting rows that may already exist, without an exception and without a savepoint.

Webhooks are delivered at least once and two workers may store the same customer or message at the
same moment; the unique constraints decide. ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (``INSERT
OR IGNORE`` on SQLite) is the query Django's ``bulk_create(ignore_conflicts=True)`` runs, plus
RETURNING, so the caller learns which rows it added. On PostgreSQL a concurrent insert of the same key
waits for the other transaction instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router
from django.db.models.constants import OnConflict


def insert_ignoring_conflicts(rows: Sequence[models.Model], *, returning: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (all of one model) in chunks; the ``returning`` values of the rows inserted.

    Rows whose unique key is already stored are skipped and not returned. Callers that lock in key
    order (two workers, overlapping rows) pass the rows sorted by that key.
    """
    if not rows:
        return []
    model = type(rows[0])
    opts = model._meta
    using = router.db_for_write(model)
    fields = [field for field in opts.local_concrete_fields if not field.primary_key]
    returning_fields = [opts.pk if name == "pk" else opts.get_field(name) for name in returning]
    size = max(1, connections[using].ops.bulk_batch_size(fields, rows))
    inserted: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), size):
        result = model._base_manager._insert(  # type: ignore[attr-defined]  # Django's bulk_create path
            rows[start : start + size], fields=fields, returning_fields=returning_fields, using=using,
            on_conflict=OnConflict.IGNORE,
        )
        # A single row that was already stored comes back as None.
        inserted.extend(row for row in result or () if row is not None)
    return inserted
