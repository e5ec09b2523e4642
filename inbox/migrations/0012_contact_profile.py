"""Contact notes and attributes, and people: several contacts (identities) of one customer."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0011_participants_include_the_page")]

    operations: list = []
