"""Replay stored webhook events by state and time range (idempotent: processed events stay as they are).

    manage.py replay_webhook_events --state failed --since 2026-01-01T00:00 --until 2026-01-02T00:00
    manage.py replay_webhook_events --state unroutable --now     # process in this process, no worker needed
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from inbox.ingest.drain import webhook_event_process
from inbox.ingest.replay import REPLAY_CHUNK, webhook_events_replay
from inbox.models import WebhookEvent

STATES = ("failed", "unroutable", "pending", "processed", "all")


def parse_moment(value: str) -> datetime:
    """An ISO date or date-time; naive values are UTC."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"Not an ISO date or date-time: {value!r}")
        moment = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - made aware below
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = "Replay stored webhook events (by state and received time). Replaying is idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--state", choices=STATES, default="failed", help="Which events (default: failed).")
        parser.add_argument("--since", help="Received at or after this ISO date/time (UTC if naive).")
        parser.add_argument("--until", help="Received before this ISO date/time (UTC if naive).")
        parser.add_argument(
            "--now", action="store_true", help="Process in this process instead of queueing for the workers."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count the events.")

    def handle(self, *args: Any, **options: Any) -> None:
        events = WebhookEvent.objects.all()
        if options["state"] != "all":
            events = events.filter(state=options["state"])
        since = parse_moment(options["since"]) if options.get("since") else None
        until = parse_moment(options["until"]) if options.get("until") else None
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        if since:
            events = events.filter(received_at__gte=since)
        if until:
            events = events.filter(received_at__lt=until)
        event_ids = list(events.order_by("received_at", "pk").values_list("pk", flat=True))
        if options["dry_run"]:
            self.stdout.write(f"{len(event_ids)} event(s) would be replayed.")
            return

        replayed = 0
        with tqdm(total=len(event_ids), unit="event", disable=not event_ids, file=self.stderr._out) as bar:
            for start in range(0, len(event_ids), REPLAY_CHUNK):
                chunk = event_ids[start : start + REPLAY_CHUNK]
                if options["now"]:
                    for event_id in chunk:
                        WebhookEvent.objects.filter(pk=event_id).update(state=WebhookEvent.State.PENDING)
                        webhook_event_process(event_id=event_id)
                        replayed += 1
                        bar.update(1)
                else:
                    replayed += webhook_events_replay(event_ids=chunk)
                    bar.update(len(chunk))
        verb = "replayed" if options["now"] else "queued for replay"
        self.stdout.write(self.style.SUCCESS(f"{replayed} event(s) {verb}."))
