from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0019_compliance")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="thread_owner_app_id",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="conversation",
            name="thread_owner_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
