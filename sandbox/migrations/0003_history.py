import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0002_thread_control_profile")]

    operations = [
        migrations.CreateModel(
            name="ThreadMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("mid", models.CharField(max_length=100, unique=True)),
                ("from_page", models.BooleanField(default=False)),
                ("text", models.TextField(blank=True)),
                ("attachments", models.JSONField(blank=True, default=list)),
                ("created_time", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="thread_messages",
                        to="sandbox.customer",
                    ),
                ),
                (
                    "page",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="thread_messages", to="sandbox.page"
                    ),
                ),
            ],
            options={
                "ordering": ("-created_time", "-id"),
                "indexes": [models.Index(fields=["customer", "-created_time"], name="sandbox_thread_customer_time")],
            },
        ),
    ]
