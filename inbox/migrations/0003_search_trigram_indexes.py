"""Trigram indexes for inbox search (PostgreSQL only; SQLite installs scan, which is fine at their size).

`icontains` on message text and customer names uses these GIN indexes, so a search answers
from the index instead of reading every message of the business.
"""

from django.db import migrations

# Django's `icontains` on PostgreSQL is `UPPER(col::text) LIKE UPPER(%s)`: index that expression.
INDEXES = [
    ("chat_messages_content_upper_trgm", "chat_messages", "content"),
    ("inbox_contact_name_upper_trgm", "inbox_contact", "name"),
    ("inbox_contact_username_upper_trgm", "inbox_contact", "username"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("inbox", "0002_conversation_unread_index")]
    operations = [migrations.RunPython(create, drop)]
