from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0022_webhook_event_hours")]

    operations = []
