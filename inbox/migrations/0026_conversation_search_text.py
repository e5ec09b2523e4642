"""Each conversation's message text in a few short rows, kept by PostgreSQL: what a search walks.

A search for text in a few per cent of the conversations ("tracking") found its matches through the
message trigram index (0003), then read every matching message's row, scattered over as many heap
pages as there are matches (~5,000 of them, ~13 ms). Walking the list newest first instead checked
each conversation's messages one by one (~15–20 µs a conversation). ``conversation_search_text``
holds each conversation's texts upper-cased, so the walk checks a row or two per conversation
(~6–10 µs with its joins), and stops at the page's last match.

Triggers keep it, so every way of storing a message (ingest, replies, notes, imports, moves between
conversations) is covered without Python remembering to: a statement trigger appends the texts of
inserted rows, a row trigger the new text of an edited or moved message. Rows only grow (text
removed from a message stays), so a match here is confirmed against the messages (inbox.selectors).
SQLite installs keep the table empty and search their messages directly.
"""

from django.db import migrations, models

# A new row starts after about this many bytes of text (a row ends with the text that crosses the
# line): short rows stay in the table's pages uncompressed (PostgreSQL compresses rows past ~2 kB and
# moves long values out of line), so checking one costs a page read and a LIKE.
CHUNK_BYTES = 1200

# The texts of `changed` (a transition table, or the one row of a row trigger) added after their
# conversation's last row: each text goes to the row where it starts, counting from that row's start,
# so a statement of many texts (an import, a bulk insert) fills rows as the rebuild below would. In
# conversation order, so two writers lock shared rows in the same order; two that add the same new
# row merge (ON CONFLICT).
APPEND = f"""
WITH added AS (
    SELECT id, conversation_id, upper(content) AS text, octet_length(content) + 1 AS size
    FROM changed WHERE content <> '' AND conversation_id IS NOT NULL
), last AS (
    SELECT ids.conversation_id, coalesce(tail.chunk, 0) AS chunk, coalesce(tail.size, 0) AS size
    FROM (SELECT DISTINCT conversation_id FROM added) ids
    LEFT JOIN LATERAL (
        SELECT chunk, octet_length(text) + 1 AS size FROM conversation_search_text
        WHERE conversation_id = ids.conversation_id ORDER BY chunk DESC LIMIT 1
    ) tail ON true
), placed AS (
    SELECT added.conversation_id, added.id, added.text,
           last.chunk + (last.size + sum(added.size) OVER (PARTITION BY added.conversation_id ORDER BY added.id)
                         - added.size) / {CHUNK_BYTES} AS chunk
    FROM added JOIN last USING (conversation_id)
)
INSERT INTO conversation_search_text AS kept (conversation_id, chunk, text)
SELECT conversation_id, chunk, string_agg(text, E'\\n' ORDER BY id) FROM placed
GROUP BY conversation_id, chunk
ORDER BY conversation_id, chunk
ON CONFLICT (conversation_id, chunk) DO UPDATE SET text = kept.text || E'\\n' || EXCLUDED.text
"""

# Rebuilt from the messages (this migration's backfill), in chunks by the running length of the texts.
REBUILD = f"""
INSERT INTO conversation_search_text (conversation_id, chunk, text)
SELECT conversation_id, chunk, string_agg(text, E'\\n' ORDER BY id)
FROM (
    SELECT id, conversation_id, upper(content) AS text,
           (sum(octet_length(content) + 1) OVER (PARTITION BY conversation_id ORDER BY id)
            - octet_length(content) - 1) / {CHUNK_BYTES} AS chunk
    FROM chat_messages WHERE content <> '' AND conversation_id IS NOT NULL
) texts
GROUP BY conversation_id, chunk
"""

FORWARD = [
    """ALTER TABLE conversation_search_text ADD CONSTRAINT conversation_search_text_conversation_fk
       FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE CASCADE
       DEFERRABLE INITIALLY DEFERRED""",
    f"""CREATE FUNCTION conversation_search_text_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {APPEND.replace("FROM changed", "FROM new_rows AS changed")};
            RETURN NULL;
        END $$""",
    f"""CREATE FUNCTION conversation_search_text_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {APPEND.replace("FROM changed", "FROM (SELECT NEW.id, NEW.conversation_id, NEW.content) AS changed")};
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER conversation_search_text_inserted AFTER INSERT ON chat_messages
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
       EXECUTE FUNCTION conversation_search_text_inserted()""",
    # Only when the text or the conversation really changed and there is text: status and read
    # updates, and a purge emptying many messages (an unsent message, retention), skip it in C.
    """CREATE TRIGGER conversation_search_text_changed AFTER UPDATE OF content, conversation_id ON chat_messages
       FOR EACH ROW WHEN ((OLD.content IS DISTINCT FROM NEW.content
                           OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
                          AND NEW.content <> '')
       EXECUTE FUNCTION conversation_search_text_changed()""",
    REBUILD,
    # Statistics now, or the planner guesses at the first searches and may scan the whole table.
    "ANALYZE conversation_search_text",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS conversation_search_text_changed ON chat_messages",
    "DROP TRIGGER IF EXISTS conversation_search_text_inserted ON chat_messages",
    "DROP FUNCTION IF EXISTS conversation_search_text_changed()",
    "DROP FUNCTION IF EXISTS conversation_search_text_inserted()",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0025_private_reply_public_ids")]

    operations = [
        migrations.CreateModel(
            name="ConversationSearchText",
            fields=[
                ("pk", models.CompositePrimaryKey("conversation", "chunk", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("chunk", models.PositiveIntegerField()),
                ("text", models.TextField()),
                ("conversation", models.ForeignKey(db_constraint=False, db_index=False,
                                                   on_delete=models.deletion.DO_NOTHING, related_name="+",
                                                   to="inbox.conversation")),
            ],
            options={"db_table": "conversation_search_text"},
        ),
        migrations.RunPython(create, drop),
    ]
