from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0004_instagram_media_links")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="user_ref",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user_ref", ""), _negated=True),
                fields=("account", "user_ref"),
                name="uniq_contact_account_user_ref",
            ),
        ),
    ]
