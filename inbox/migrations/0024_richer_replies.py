from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0023_comments")]

    operations = []
