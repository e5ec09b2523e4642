"""Channel health: a small index of each page's refused replies."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0015_report_rollups")]

    operations = [
        migrations.AddIndex(
            model_name="chatmessage",
            index=models.Index(
                condition=models.Q(("direction", "outbound"), ("status", "failed")),
                fields=["account", "-timestamp"],
                name="msg_failed_by_account",
            ),
        ),
    ]
