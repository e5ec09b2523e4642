"""Corrections found trying the inbox as a new user."""

from django.db import migrations
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce


def answered_in_metas_apps_are_read(apps, schema_editor):
    """A reply typed in Meta's apps (an echo stored as an outbound message of source "meta") means the
    page answered what the customer wrote before it: those messages are read, and each conversation's
    unread count keeps only what was written after its latest such reply. Ingest does the same for new
    echoes (inbox.ingest.echoes.echo_answered); this catches up the rows stored before it did."""
    ChatMessage = apps.get_model("inbox", "ChatMessage")
    Conversation = apps.get_model("inbox", "Conversation")
    latest_reply = (
        ChatMessage.objects.filter(conversation_id=OuterRef("conversation_id"), direction="outbound", source="meta")
        .order_by("-timestamp")
        .values("timestamp")[:1]
    )
    answered = (
        ChatMessage.objects.filter(Q(is_read=False) | Q(is_replied=False), direction="inbound")
        .annotate(replied_at=Subquery(latest_reply))
        .filter(timestamp__lte=F("replied_at"))
    )
    touched = set(answered.values_list("conversation_id", flat=True).distinct())
    if not touched:
        return
    ChatMessage.objects.filter(pk__in=answered.values("pk")).update(is_read=True, is_replied=True)
    unread = (
        ChatMessage.objects.filter(conversation_id=OuterRef("pk"), direction="inbound", is_read=False)
        .exclude(kind="notice")
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Conversation.objects.filter(pk__in=touched).update(unread_count=Coalesce(Subquery(unread), 0))


class Migration(migrations.Migration):
    dependencies = [("inbox", "0013_reply_window_views")]

    operations: list = [
        # Going back leaves the rows read: nothing about them was wrong before, only incomplete.
        migrations.RunPython(answered_in_metas_apps_are_read, migrations.RunPython.noop, elidable=True),
    ]
