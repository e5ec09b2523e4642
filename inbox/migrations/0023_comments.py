import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0022_webhook_event_hours")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="kind",
            field=models.CharField(
                choices=[("messages", "Messages"), ("comments", "Comments")], default="messages", max_length=10
            ),
        ),
        migrations.AddField(
            model_name="conversation", name="post_id", field=models.CharField(blank=True, max_length=128)
        ),
        migrations.AddField(
            model_name="conversation", name="post_permalink", field=models.URLField(blank=True, max_length=1000)
        ),
        migrations.AddField(
            model_name="conversation", name="post_excerpt", field=models.CharField(blank=True, max_length=255)
        ),
        migrations.AddField(
            model_name="conversation", name="post_picture", field=models.URLField(blank=True, max_length=2000)
        ),
        migrations.AddField(
            model_name="conversation", name="commenter_id", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.AddField(
            model_name="conversation",
            name="linked_conversation",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="comment_threads", to="inbox.conversation",
            ),
        ),
        migrations.AlterField(
            model_name="chatmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("message", "Message"), ("postback", "Button tapped"), ("referral", "Referral"),
                    ("notice", "Notice"), ("note", "Private note"), ("comment", "Comment"),
                ],
                default="message", max_length=10,
            ),
        ),
    ]
