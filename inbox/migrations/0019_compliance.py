import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0018_public_ids")]

    operations = [
        migrations.CreateModel(
            name="DataDeletionRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("confirmation_code", models.CharField(max_length=40, unique=True)),
                ("user_hash", models.CharField(max_length=64, unique=True)),
                ("user_id", models.CharField(blank=True, max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[("received", "Received"), ("in_progress", "In progress"), ("done", "Done")],
                        default="received",
                        max_length=12,
                    ),
                ),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
            ],
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
                    ("expired", "Expired (retention)"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
    ]
