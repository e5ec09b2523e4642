"""Each member's choice of browser notifications and sound."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_staff_identity")]

    operations: list = []
