import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_activity_retention")]

    operations = [
        migrations.AddField(
            model_name="business",
            name="media_retention_days",
            field=models.PositiveIntegerField(
                default=365,
                help_text="Stored photos, videos and files older than this are deleted (0: keep forever).",
                validators=[django.core.validators.MaxValueValidator(3650)],
                verbose_name="Keep media files for (days)",
            ),
        ),
        migrations.AddField(
            model_name="business",
            name="webhook_body_retention_days",
            field=models.PositiveIntegerField(
                default=30,
                help_text="Processed webhook bodies older than this are deleted (0: keep forever).",
                validators=[django.core.validators.MaxValueValidator(3650)],
                verbose_name="Keep raw webhook bodies for (days)",
            ),
        ),
    ]
