import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_instagram_media_policy")]

    operations = [
        migrations.AddField(
            model_name="business",
            name="assign_capacity",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Automatic assignment skips agents holding this many open conversations (0: no limit).",
                verbose_name="Open conversations per agent",
            ),
        ),
        migrations.AddField(
            model_name="business",
            name="auto_assign_on_reply",
            field=models.BooleanField(
                default=False,
                help_text="The first member who replies to an unassigned conversation becomes its assignee.",
                verbose_name="Assign on first reply",
            ),
        ),
        migrations.CreateModel(
            name="Team",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=80)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "business",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="teams", to="accounts.business"
                    ),
                ),
                ("members", models.ManyToManyField(blank=True, related_name="teams", to="accounts.membership")),
            ],
            options={
                "ordering": ("name", "id"),
                "constraints": [models.UniqueConstraint(fields=("business", "name"), name="uniq_team_business_name")],
            },
        ),
    ]
