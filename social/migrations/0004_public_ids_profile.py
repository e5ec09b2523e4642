import uuid

from django.db import migrations, models


def fill_public_ids(apps, schema_editor):
    """Each existing row its own UUID (a column default would give all of them the same one)."""
    SocialAccount = apps.get_model("social", "SocialAccount")
    rows = list(SocialAccount.objects.filter(public_id__isnull=True).only("pk"))
    for row in rows:
        row.public_id = uuid.uuid4()
    SocialAccount.objects.bulk_update(rows, ["public_id"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("social", "0003_auto_assign")]

    operations = [
        migrations.AddField(
            model_name="socialaccount", name="public_id", field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="socialaccount",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
