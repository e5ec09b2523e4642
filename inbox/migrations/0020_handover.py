from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0019_compliance")]

    operations = []
