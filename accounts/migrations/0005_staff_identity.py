from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_teams_and_assignment_settings")]

    operations: list = [
        migrations.AddField(
            model_name="membership",
            name="last_seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
