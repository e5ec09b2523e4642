from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_activity_retention")]

    operations = []
