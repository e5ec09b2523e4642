"""Corrections found trying the inbox as a new user."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0013_reply_window_views")]

    operations: list = []
