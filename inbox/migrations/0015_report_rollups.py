"""Reports: what the rollups keep per conversation and per hour, maintained by a periodic task."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0014_agent_day_fixes")]

    operations: list = []
