import datetime as dt

from django.db import migrations, models
from django.utils import timezone

# The chart covers 48 hours: counts for them are filled from the stored events once.
BACKFILL_HOURS = 48


def backfill(apps, schema_editor):
    WebhookEvent = apps.get_model("inbox", "WebhookEvent")
    WebhookEventHour = apps.get_model("inbox", "WebhookEventHour")
    since = timezone.now() - dt.timedelta(hours=BACKFILL_HOURS)
    counts: dict[tuple[str, str, dt.datetime], int] = {}
    events = (
        WebhookEvent.objects.filter(received_at__gte=since)
        .exclude(state__in=("pending", "test"))
        .values_list("object_type", "account_ids", "unroutable_account_ids", "received_at")
    )
    for object_type, routed, unroutable, received_at in events.iterator(chunk_size=2000):
        hour = received_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        for meta_id in {*(routed or ()), *(unroutable or ())}:
            key = (object_type[:32], str(meta_id)[:64], hour)
            counts[key] = counts.get(key, 0) + 1
    WebhookEventHour.objects.bulk_create(
        [WebhookEventHour(object_type=o, meta_id=m, hour=h, received=n) for (o, m, h), n in counts.items()],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("inbox", "0021_history_import")]

    operations = [
        migrations.CreateModel(
            name="WebhookEventHour",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_type", models.CharField(max_length=32)),
                ("meta_id", models.CharField(max_length=64)),
                ("hour", models.DateTimeField()),
                ("received", models.PositiveIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("object_type", "meta_id", "hour"), name="webhook_event_hour_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
