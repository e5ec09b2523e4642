from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0017_chatmessage_received_at")]

    operations = []
