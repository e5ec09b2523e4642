from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("social", "0005_history_import")]

    operations = []
