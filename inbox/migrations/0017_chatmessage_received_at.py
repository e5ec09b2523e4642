"""Each message stamped with when the webhook carrying it was stored (empty for rows stored before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0016_channel_health")]

    operations = [
        migrations.AddField(
            model_name="chatmessage",
            name="received_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
