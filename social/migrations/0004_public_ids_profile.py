from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("social", "0003_auto_assign")]

    operations = []
