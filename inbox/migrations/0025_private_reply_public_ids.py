"""A comment's private reply links to its Messenger conversation by the conversation's public id (the
app's URLs name conversations by it): add that id to the replies recorded with only the integer one."""

from django.db import migrations


def forwards(apps, schema_editor):
    ChatMessage = apps.get_model("inbox", "ChatMessage")
    Conversation = apps.get_model("inbox", "Conversation")
    comments = ChatMessage.objects.filter(kind="comment", extra__private_reply__has_key="conversation_id").exclude(
        extra__private_reply__has_key="conversation_public_id"
    )
    for comment in comments.only("pk", "extra").iterator(chunk_size=500):
        reply = dict(comment.extra["private_reply"])
        public_id = Conversation.objects.filter(pk=reply.get("conversation_id")).values_list("public_id", flat=True).first()
        if public_id is None:
            continue
        reply["conversation_public_id"] = str(public_id)
        ChatMessage.objects.filter(pk=comment.pk).update(extra={**comment.extra, "private_reply": reply})


class Migration(migrations.Migration):
    dependencies = [("inbox", "0024_richer_replies")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
