"""The per-hour count of webhook events per Page or Instagram id that channel health charts.

The drain adds each event once, the first time it processes it (a replay is not a new delivery), in
the batch's own transaction: one statement per batch, whatever its size. The increment is done by the
database (`INSERT … ON CONFLICT … DO UPDATE SET received = received + excluded.received`, the same on
PostgreSQL and SQLite), so concurrent drains never lose a count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection

from inbox.models import WebhookEventHour


def event_hours_add(deliveries: Iterable[tuple[str, Iterable[str], datetime]]) -> None:
    """Count each (object type, the ids its entries name, when it was received) once."""
    counts: Counter[tuple[str, str, datetime]] = Counter()
    for object_type, meta_ids, received_at in deliveries:
        hour = WebhookEventHour.hour_of(received_at)
        for meta_id in set(meta_ids):
            counts[(object_type[:32], str(meta_id)[:64], hour)] += 1
    if not counts:
        return
    table = connection.ops.quote_name(WebhookEventHour._meta.db_table)
    rows = sorted(counts.items())  # one order for every drain: concurrent upserts cannot deadlock
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params: list[Any] = []
    for (object_type, meta_id, hour), received in rows:
        params += [object_type, meta_id, connection.ops.adapt_datetimefield_value(hour), received]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (object_type, meta_id, hour, received) VALUES {values} "  # noqa: S608
            "ON CONFLICT (object_type, meta_id, hour) DO UPDATE SET received = "
            f"{table}.received + excluded.received",
            params,
        )
