from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0018_public_ids")]

    operations = []
