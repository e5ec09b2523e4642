"""The seed's participants of a conversation are both sides: the customer, then the page's side.

Conversations stored before listed the customer only; this adds the Page or Instagram account.
"""

from django.db import migrations

BATCH = 1000


def forwards(apps, schema_editor):
    Conversation = apps.get_model("inbox", "Conversation")
    rows = Conversation.objects.select_related("contact", "account").order_by("pk")
    batch = []
    for conversation in rows.iterator(chunk_size=BATCH):
        contact, account = conversation.contact, conversation.account
        name = contact.name or (f"@{contact.username}" if contact.username else contact.external_id)
        conversation.participant_ids = [contact.external_id, account.account_id]
        conversation.participant_names = [
            (conversation.participant_names or [name])[0],
            account.account_name or account.account_id,
        ]
        batch.append(conversation)
        if len(batch) == BATCH:
            Conversation.objects.bulk_update(batch, ["participant_ids", "participant_names"])
            batch = []
    if batch:
        Conversation.objects.bulk_update(batch, ["participant_ids", "participant_names"])


def backwards(apps, schema_editor):
    Conversation = apps.get_model("inbox", "Conversation")
    batch = []
    for conversation in Conversation.objects.order_by("pk").iterator(chunk_size=BATCH):
        conversation.participant_ids = conversation.participant_ids[:1]
        conversation.participant_names = conversation.participant_names[:1]
        batch.append(conversation)
        if len(batch) == BATCH:
            Conversation.objects.bulk_update(batch, ["participant_ids", "participant_names"])
            batch = []
    if batch:
        Conversation.objects.bulk_update(batch, ["participant_ids", "participant_names"])


class Migration(migrations.Migration):
    dependencies = [("inbox", "0010_notes_and_notifications")]

    operations = [migrations.RunPython(forwards, backwards)]
