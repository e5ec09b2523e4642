"""How long each business keeps its activity log: staff actions, and the per-call rows of Graph API calls."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_user_time_zone")]

    operations = [
        migrations.AddField(
            model_name="business",
            name="activity_retention_days",
            field=models.PositiveIntegerField(
                default=730,
                validators=[
                    django.core.validators.MinValueValidator(30),
                    django.core.validators.MaxValueValidator(3650),
                ],
                verbose_name="Keep staff actions for (days)",
            ),
        ),
        migrations.AddField(
            model_name="business",
            name="graph_call_retention_days",
            field=models.PositiveIntegerField(
                default=90,
                validators=[
                    django.core.validators.MinValueValidator(7),
                    django.core.validators.MaxValueValidator(365),
                ],
                verbose_name="Keep Graph API calls for (days)",
            ),
        ),
    ]
