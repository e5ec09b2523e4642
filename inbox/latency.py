"""How fast messages reach the inbox, per page, sampled: the figure the README promises, shown to businesses.

Two delays are measured for customers' messages (not receipts, which Meta sends late on purpose):

- ``meta_to_stored``: from Meta's timestamp on the message to its row being applied (Meta's delivery,
  our webhook answer and the drain together);
- ``webhook_to_pushed``: from the webhook's arrival to the live push handed to every open screen of
  the business (the drain's wait and work, and rendering the push);
- ``webhook_to_screen``: from the webhook's arrival to an open inbox page showing the message: each
  page acknowledges the customers' messages a push placed (`ack_parse`, over its socket), and the
  delay is taken from the message's own `received_at` stamp when the acknowledgement arrives.

The drain records them per account and hour in Django's cache (Redis in production; one process's
memory on the embedded default), at most SAMPLES_PER_HOUR of each per hour, kept a day. A bucket is
read, extended and written back: two drains writing the same account's bucket at the same instant
may lose a few samples, which a sample can afford and a lock per batch could not. Channel health
shows the median and the 99th percentile of the last 24 hours.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

META_TO_STORED = "meta_to_stored"
WEBHOOK_TO_PUSHED = "webhook_to_pushed"
WEBHOOK_TO_SCREEN = "webhook_to_screen"
KINDS = (META_TO_STORED, WEBHOOK_TO_PUSHED, WEBHOOK_TO_SCREEN)
SAMPLES_PER_HOUR = 500
KEEP_HOURS = 25
SUMMARY_HOURS = 24


@dataclass(frozen=True)
class Summary:
    kind: str
    samples: int
    p50_ms: float | None
    p99_ms: float | None


def _key(account_pk: int, when: dt.datetime) -> str:
    return f"inbox:latency:{account_pk}:{when.astimezone(dt.UTC):%Y%m%d%H}"


def samples_record(samples: dict[int, dict[str, list[float]]], *, now: dt.datetime | None = None) -> None:
    """Add these delays (seconds, per account pk and kind) to the current hour's buckets: two cache calls."""
    samples = {pk: kinds for pk, kinds in samples.items() if any(kinds.values())}
    if not samples:
        return
    now = now or timezone.now()
    keys = {pk: _key(pk, now) for pk in samples}
    try:
        current = cache.get_many(list(keys.values()))
        updates = {}
        for pk, kinds in samples.items():
            bucket = dict(current.get(keys[pk]) or {})
            for kind, values in kinds.items():
                kept = [*bucket.get(kind, ()), *(round(max(v, 0.0), 4) for v in values)]
                bucket[kind] = kept[-SAMPLES_PER_HOUR:]
            updates[keys[pk]] = bucket
        cache.set_many(updates, timeout=KEEP_HOURS * 3600)
    except Exception:  # a sample is never worth failing the drain for
        logger.warning("Latency samples could not be recorded", exc_info=True)


def latency_summary(*, account_pk: int, now: dt.datetime | None = None) -> list[Summary]:
    """Median and 99th percentile of each delay over the last SUMMARY_HOURS hours (one cache call)."""
    now = now or timezone.now()
    keys = [_key(account_pk, now - dt.timedelta(hours=hours)) for hours in range(SUMMARY_HOURS)]
    buckets: list[dict] = []
    try:
        buckets = list(cache.get_many(keys).values())
    except Exception:
        logger.warning("Latency samples could not be read", exc_info=True)
    summaries = []
    for kind in KINDS:
        values = sorted(value for bucket in buckets for value in bucket.get(kind, ()))
        summaries.append(Summary(
            kind=kind, samples=len(values), p50_ms=_percentile_ms(values, 50), p99_ms=_percentile_ms(values, 99)
        ))
    return summaries


def _percentile_ms(ordered: list[float], pct: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))  # nearest rank
    return round(ordered[index] * 1000, 1)


def seconds_since(moments: Iterable[dt.datetime | None], *, now: dt.datetime) -> list[float]:
    return [(now - moment).total_seconds() for moment in moments if moment is not None]


# Events received longer ago than this are replays or a backlog's catching up: their delays describe an
# outage, which channel health shows as failed or late events, not as the page's ordinary speed.
LIVE_SECONDS = 600


def drain_samples_on_commit(*, messages: dict[int, list[tuple[dt.datetime | None, dt.datetime]]]) -> None:
    """Record the delays of these customers' messages once the drain's transaction has committed and its
    pushes went out: per account pk, (Meta's timestamp, the webhook's arrival) of each message.

    Called by the drain after its pushes were queued for the commit, so this callback runs after them:
    "pushed" is when every push was handed to the channel layer, "stored" when the batch was applied
    (the commit that follows adds about a millisecond).
    """
    from django.db import transaction

    stored = timezone.now()
    live = {
        pk: [(meta, received) for meta, received in pairs if (stored - received).total_seconds() <= LIVE_SECONDS]
        for pk, pairs in messages.items()
    }
    live = {pk: pairs for pk, pairs in live.items() if pairs}
    if not live:
        return

    def record() -> None:
        pushed = timezone.now()
        samples_record({
            pk: {
                META_TO_STORED: seconds_since((meta for meta, _ in pairs), now=stored),
                WEBHOOK_TO_PUSHED: seconds_since((received for _, received in pairs), now=pushed),
            }
            for pk, pairs in live.items()
        }, now=pushed)

    transaction.on_commit(record)


# An acknowledgement frame from a page: {"ack": [message ids]}, at most this many ids (a push carries at
# most 50 messages), sent at most once a second by the page.
MAX_ACK_IDS = 50
MAX_ACK_CHARS = 600
MAX_ID = 2**63 - 1


def ack_parse(text: object) -> list[int] | None:
    """The message ids of a page's acknowledgement frame, or None when the text is not one."""
    import json

    if not isinstance(text, str) or len(text) > MAX_ACK_CHARS or '"ack"' not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"ack"} or not isinstance(data["ack"], list):
        return None
    ids = data["ack"]
    if not ids or len(ids) > MAX_ACK_IDS:
        return None
    if not all(type(pk) is int and 0 < pk <= MAX_ID for pk in ids):
        return None
    return sorted(set(ids))


def screen_samples_record(*, business_id: int, message_ids: list[int], now: dt.datetime | None = None) -> int:
    """Record how long these customers' messages took from the webhook to this page (one query, the
    business's own live messages only: an id of another business or a replay counts for nothing)."""
    from inbox.models import ChatMessage

    now = now or timezone.now()
    rows = ChatMessage.objects.filter(
        business_id=business_id, pk__in=message_ids, direction=ChatMessage.Direction.INBOUND,
        received_at__gte=now - dt.timedelta(seconds=LIVE_SECONDS),
    ).values_list("account_id", "received_at")
    samples: dict[int, dict[str, list[float]]] = {}
    for account_pk, received_at in rows:
        if received_at is not None:
            samples.setdefault(account_pk, {WEBHOOK_TO_SCREEN: []})[WEBHOOK_TO_SCREEN].append(
                (now - received_at).total_seconds()
            )
    samples_record(samples, now=now)
    return sum(len(kinds[WEBHOOK_TO_SCREEN]) for kinds in samples.values())
