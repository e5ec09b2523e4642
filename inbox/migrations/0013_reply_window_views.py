"""What the reply-window views need (an ad referral's longer window, the expiring-soon view)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0012_contact_profile")]

    operations: list = []
