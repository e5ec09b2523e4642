from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0002_thread_control_profile")]

    operations = []
