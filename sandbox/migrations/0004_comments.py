import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0003_history")]

    operations = [
        migrations.CreateModel(
            name="Post",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("post_id", models.CharField(max_length=64, unique=True)),
                ("instagram", models.BooleanField(default=False)),
                ("message", models.TextField(blank=True)),
                ("media_product_type", models.CharField(blank=True, max_length=16)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("page", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="posts",
                                           to="sandbox.page")),
            ],
            options={"ordering": ("id",)},
        ),
        migrations.CreateModel(
            name="Comment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("comment_id", models.CharField(max_length=64, unique=True)),
                ("parent_id", models.CharField(blank=True, max_length=64)),
                ("from_id", models.CharField(max_length=32)),
                ("from_name", models.CharField(blank=True, max_length=200)),
                ("from_page", models.BooleanField(default=False)),
                ("text", models.TextField(blank=True)),
                ("created_time", models.DateTimeField(default=django.utils.timezone.now)),
                ("hidden", models.BooleanField(default=False)),
                ("deleted", models.BooleanField(default=False)),
                ("private_reply_mid", models.CharField(blank=True, max_length=100)),
                ("post", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="comments",
                                           to="sandbox.post")),
            ],
            options={"ordering": ("id",)},
        ),
    ]
