from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_invitation")]

    operations = [
        migrations.AddField(
            model_name="business",
            name="instagram_media_store",
            field=models.BooleanField(
                default=False,
                help_text="Copy Instagram photos, videos and files into our storage instead of keeping Meta's link only.",
                verbose_name="Store Instagram media",
            ),
        ),
    ]
