from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0020_handover")]

    operations = []
