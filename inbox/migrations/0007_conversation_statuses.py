"""Conversation statuses: open, pending, snoozed until a time, resolved.

The former "archived" status is what "resolved" means now: archived rows become resolved. Going
back, resolved rows become archived again and pending or snoozed ones open.
"""

from django.db import migrations, models


def archived_to_resolved(apps, schema_editor):
    Conversation = apps.get_model("inbox", "Conversation")
    Conversation.objects.filter(status="archived").update(status="resolved")


def resolved_to_archived(apps, schema_editor):
    Conversation = apps.get_model("inbox", "Conversation")
    Conversation.objects.filter(status="resolved").update(status="archived")
    Conversation.objects.filter(status__in=("pending", "snoozed")).update(status="open", snoozed_until=None)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0006_platform_notices")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="snoozed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="status",
            field=models.CharField(
                choices=[("open", "Open"), ("pending", "Pending"), ("snoozed", "Snoozed"), ("resolved", "Resolved")],
                default="open",
                max_length=10,
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("status", "snoozed")), fields=["snoozed_until"], name="conv_snoozed_until"
            ),
        ),
        migrations.RunPython(archived_to_resolved, resolved_to_archived, elidable=True),
    ]
