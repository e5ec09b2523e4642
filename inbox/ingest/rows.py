"""Inserting rows that may already exist: ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING ...``.

Webhooks are delivered at least once and two workers may store the same customer or message at the
same moment; the unique constraint named by ``conflict`` decides. Rows whose key is already stored
are skipped without an exception and without a savepoint, and the caller learns which rows it added
from ``RETURNING``. Any other constraint failure still raises. On PostgreSQL a concurrent insert of
the same key waits for the other transaction instead of failing. The statement works on PostgreSQL
and SQLite (3.35 or later); on PostgreSQL the rows go as one array per column (``SELECT * FROM
UNNEST(...)``, as Django's ``bulk_create`` does there), planned much faster than thousands of
placeholders.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

# A statement takes at most 65,535 parameters (PostgreSQL's limit; SQLite's is lower).
MAX_PARAMETERS = 65_535


def insert_ignoring_conflicts(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (field attnames to values) into ``model``'s table; the ``returning`` columns
    of the rows inserted. SQLite gets them in chunks it accepts (999 parameters).

    A field a row leaves out gets its default, an ``auto_now_add`` field now, and an ``auto_now``
    field is always now, as ``save()`` would do. Callers that lock in key order (two workers,
    overlapping rows) pass rows sorted by key.
    """
    if not rows:
        return []
    using = router.db_for_write(model)
    connection = connections[using]
    fields = _fields(model)
    columns = _columns(model)
    now = timezone.now()
    values = [[_prepared(column, row, now, connection) for column in columns] for row in rows]
    inserted: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) > 1:
            arrays = [list(column) for column in zip(*values, strict=True)]
            cursor.execute(_sql(model, using, None, conflict, returning), arrays)
            return [tuple(row) for row in cursor.fetchall()]
        size = max(1, min(connection.ops.bulk_batch_size(fields, rows), MAX_PARAMETERS // len(fields)))
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            cursor.execute(_sql(model, using, len(chunk), conflict, returning), [v for row in chunk for v in row])
            inserted.extend(tuple(row) for row in cursor.fetchall())
    return inserted


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.local_concrete_fields if not field.primary_key]


@dataclass(frozen=True, slots=True)
class _Column:
    field: models.Field
    # auto_now / auto_now_add: now when the row leaves it out, and auto_now always (as save() does).
    automatic: bool
    # Values of these types go to the driver as they are: the field's conversion would return them
    # unchanged (text for text columns, integers for integer columns, ...). JSON is always encoded.
    plain: tuple[type, ...]


@functools.cache
def _columns(model: type[models.Model]) -> tuple[_Column, ...]:
    return tuple(
        _Column(
            field=field,
            automatic=bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)),
            plain=_plain_types(field.target_field if field.is_relation else field),  # type: ignore[attr-defined]
        )
        for field in _fields(model)
    )


def _plain_types(field: models.Field) -> tuple[type, ...]:
    if isinstance(field, models.JSONField):
        return ()
    if isinstance(field, models.CharField | models.TextField):
        return (str, type(None))
    if isinstance(field, models.BooleanField):
        return (bool, type(None))
    if isinstance(field, models.IntegerField | models.AutoField):
        return (int, type(None))
    return (type(None),)


def _prepared(column: _Column, row: Mapping[str, Any], now: datetime, connection: BaseDatabaseWrapper) -> Any:
    field = column.field
    if column.automatic and (field.attname not in row or getattr(field, "auto_now", False)):
        value = now
    elif field.attname in row:
        value = row[field.attname]
    else:
        value = field.get_default()
    if type(value) in column.plain:
        return value
    return field.get_db_prep_save(value, connection=connection)


@functools.cache
def _sql(
    model: type[models.Model], using: str, count: int | None, conflict: tuple[str, ...], returning: tuple[str, ...]
) -> str:
    """The statement for ``count`` rows (None: one array per column), built from the model (no input
    reaches it)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta

    def column(name: str) -> str:
        field = opts.pk if name == "pk" else opts.get_field(name)
        assert isinstance(field, models.Field) and field.column, name
        return quote(field.column)

    fields = _fields(model)
    if count is None:
        # Without the type's parameters, so nothing is cut (varchar[], not varchar(50)[]).
        arrays = ", ".join(f"(%s)::{str(field.db_type(connection)).split('(')[0]}[]" for field in fields)
        rows = f"SELECT * FROM UNNEST({arrays})"  # noqa: S608
    else:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        rows = f"VALUES {', '.join([row] * count)}"
    return (
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(column(f.name) for f in fields)}) {rows} "
        f"ON CONFLICT ({', '.join(column(name) for name in conflict)}) DO NOTHING "
        f"RETURNING {', '.join(column(name) for name in returning)}"
    )
