"""What the reply-window views need (an ad referral's longer window, the expiring-soon view)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0012_contact_profile")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="ad_referral_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="ad_window_opened_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="chatmessage",
            index=models.Index(
                condition=models.Q(
                    ("direction", "inbound"), ("is_replied", False), models.Q(("kind", "notice"), _negated=True)
                ),
                fields=["conversation"],
                name="msg_conversation_unreplied",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("status", "open")),
                fields=["business", "last_inbound_at"],
                name="conv_open_last_inbound",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("ad_window_opened_at__isnull", False)),
                fields=["business", "ad_window_opened_at"],
                name="conv_ad_window_opened",
            ),
        ),
    ]
