from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0003_search_trigram_indexes")]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="link_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="attachment",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Pending download"),
                    ("stored", "Stored"),
                    ("failed", "Download failed"),
                    ("skipped", "Not stored"),
                    ("link", "Link only"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
    ]
