import uuid

from django.db import migrations, models

BATCH = 2000


def fill_public_ids(apps, schema_editor):
    """Each existing row its own UUID (a column default would give all of them the same one), in batches
    so a large table is never held in memory at once."""
    for name in ("Conversation", "ChatMessage"):
        model = apps.get_model("inbox", name)
        while True:
            rows = list(model.objects.filter(public_id__isnull=True).only("pk")[:BATCH])
            if not rows:
                break
            for row in rows:
                row.public_id = uuid.uuid4()
            model.objects.bulk_update(rows, ["public_id"])


class Migration(migrations.Migration):
    dependencies = [("inbox", "0017_chatmessage_received_at")]

    operations = [
        migrations.AddField(model_name="conversation", name="public_id", field=models.UUIDField(editable=False, null=True)),
        migrations.AddField(model_name="chatmessage", name="public_id", field=models.UUIDField(editable=False, null=True)),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="conversation",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="chatmessage",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
