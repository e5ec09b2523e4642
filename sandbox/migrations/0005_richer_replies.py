import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0004_comments")]

    operations = [
        migrations.CreateModel(
            name="UploadedAttachment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("attachment_id", models.CharField(max_length=32, unique=True)),
                ("type", models.CharField(max_length=10)),
                ("filename", models.CharField(blank=True, max_length=255)),
                ("content_type", models.CharField(blank=True, max_length=127)),
                ("size", models.PositiveBigIntegerField(default=0)),
                ("content", models.BinaryField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("page", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="uploaded_attachments", to="sandbox.page")),
            ],
            options={"ordering": ("id",)},
        ),
    ]
