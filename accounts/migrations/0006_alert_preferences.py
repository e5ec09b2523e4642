"""Each member's choice of browser notifications and sound."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_staff_identity")]

    operations: list = [
        migrations.AddField(
            model_name="membership",
            name="notify_new_conversations",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="membership",
            name="notify_assigned_messages",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="membership",
            name="notify_mentions",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="membership",
            name="notify_sound",
            field=models.BooleanField(default=False),
        ),
    ]
