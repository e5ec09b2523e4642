"""Each user's time zone and clock, for the times the inbox shows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_alert_preferences")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="time_zone",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="user",
            name="clock",
            field=models.CharField(
                blank=True,
                choices=[("", "As my browser shows it"), ("12", "12-hour"), ("24", "24-hour")],
                max_length=2,
            ),
        ),
    ]
