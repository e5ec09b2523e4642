from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("social", "0004_public_ids_profile")]

    operations = []
