"""Reports: what the rollups keep per conversation and per hour, maintained by a periodic task."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0014_agent_day_fixes")]

    operations = [
        migrations.CreateModel(
            name="ReportCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=32, unique=True)),
                ("last_id", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "report_cursors",
            },
        ),
        migrations.CreateModel(
            name="BusinessHours",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("time_zone", models.CharField(default="UTC", max_length=64)),
                ("week", models.JSONField(blank=True, default=dict)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "business",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="business_hours",
                        to="accounts.business",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "business hours",
                "db_table": "report_business_hours",
            },
        ),
        migrations.CreateModel(
            name="ConversationStats",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("team_pk", models.IntegerField(default=0)),
                ("assignee_pk", models.IntegerField(default=0)),
                ("opened_at", models.DateTimeField()),
                ("first_response_at", models.DateTimeField(blank=True, null=True)),
                ("first_response_by_pk", models.IntegerField(default=0)),
                ("first_response_seconds", models.IntegerField(blank=True, null=True)),
                ("first_response_open_seconds", models.IntegerField(blank=True, null=True)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("resolved_by_pk", models.IntegerField(default=0)),
                ("resolution_seconds", models.IntegerField(blank=True, null=True)),
                ("resolution_open_seconds", models.IntegerField(blank=True, null=True)),
                ("last_inbound_at", models.DateTimeField()),
                ("last_outbound_at", models.DateTimeField(blank=True, null=True)),
                ("awaiting_reply", models.BooleanField(default=True)),
                ("window_missed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="social.socialaccount"
                    ),
                ),
                (
                    "business",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.business"
                    ),
                ),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="inbox.conversation"
                    ),
                ),
            ],
            options={
                "db_table": "report_conversation_stats",
                "indexes": [
                    models.Index(
                        fields=["business", "opened_at"],
                        include=(
                            "account",
                            "team_pk",
                            "assignee_pk",
                            "first_response_seconds",
                            "first_response_open_seconds",
                        ),
                        name="report_conv_opened",
                    ),
                    models.Index(
                        condition=models.Q(("resolved_at__isnull", False)),
                        fields=["business", "resolved_at"],
                        include=("account", "team_pk", "assignee_pk", "resolution_seconds", "resolution_open_seconds"),
                        name="report_conv_resolved",
                    ),
                    models.Index(
                        condition=models.Q(("window_missed_at__isnull", False)),
                        fields=["business", "window_missed_at"],
                        name="report_conv_missed",
                    ),
                    models.Index(fields=["conversation", "-id"], name="report_conv_latest"),
                    models.Index(
                        condition=models.Q(
                            ("awaiting_reply", True), ("resolved_at__isnull", True), ("window_missed_at__isnull", True)
                        ),
                        fields=["last_inbound_at"],
                        name="report_conv_awaiting",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="HourlyStats",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hour", models.DateTimeField()),
                ("team_pk", models.IntegerField(default=0)),
                ("agent_pk", models.IntegerField(default=0)),
                ("messages_in", models.PositiveIntegerField(default=0)),
                ("messages_out", models.PositiveIntegerField(default=0)),
                ("replies", models.PositiveIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="social.socialaccount"
                    ),
                ),
                (
                    "business",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.business"
                    ),
                ),
            ],
            options={
                "db_table": "report_hourly_stats",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("business", "hour", "account", "team_pk", "agent_pk"), name="uniq_report_hour_key"
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["business", "hour"],
                        include=("account", "team_pk", "agent_pk", "messages_in", "messages_out", "replies"),
                        name="report_hour_covering",
                    )
                ],
            },
        ),
    ]
