from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("social", "0002_platform_notices")]

    operations = [
        migrations.AddField(
            model_name="socialaccount",
            name="auto_assign",
            field=models.BooleanField(
                default=False,
                help_text="New conversations of this page are shared in turn among the business's agents.",
            ),
        ),
    ]
