from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("social", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="socialaccount",
            name="policy_action",
            field=models.CharField(blank=True, max_length=10),
        ),
        migrations.AddField(
            model_name="socialaccount",
            name="policy_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="socialaccount",
            name="policy_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="socialaccount",
            name="policy_dismissed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
