from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0005_customer_identity_and_reply_order")]

    operations = [
        migrations.AlterField(
            model_name="chatmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("message", "Message"),
                    ("postback", "Button tapped"),
                    ("referral", "Referral"),
                    ("notice", "Notice"),
                ],
                default="message",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="webhookevent",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("processed", "Processed"),
                    ("failed", "Failed"),
                    ("unroutable", "Unroutable (page not connected)"),
                    ("test", "Test event from Meta"),
                ],
                default="pending",
                max_length=12,
            ),
        ),
    ]
