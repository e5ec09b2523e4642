from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0023_comments")]

    operations = [
        migrations.AddField(
            model_name="chatmessage",
            name="page_reaction",
            field=models.CharField(blank=True, help_text="The page's reaction to this message.", max_length=32),
        ),
    ]
