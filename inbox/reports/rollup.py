"""The report rollups: read what changed since the last run, fold it into ConversationStats and HourlyStats.

Run by the periodic task `inbox.report_tasks.reports_rollup`. Two streams are read in id order, each
from its own high-water mark (`ReportCursor`): chat messages, then the audit trail's
"conversation.resolved" rows. The audit trail is the source of resolutions because every way of
resolving (the button, the bulk bar, the keyboard) goes through `conversations_set_status`, which
writes one row per conversation with who and when; `Conversation.status` says only what is true now.

Each batch, its rollup rows and its cursor move are one transaction, with the cursor row locked: a
batch is counted once, whatever runs at the same time or again after a crash (idempotent). A message is
read only once it is `SETTLE` old, so a transaction that took a lower id but committed later is not
jumped over.

Episodes: a customer message starts one when the conversation's latest has been resolved before it (or
there is none); the first reply after it is the first response; a resolve ends it. Messages are matched
to episodes by time, so the order the two streams are read in does not matter, except for a customer
message read before a resolve that came before it, which `_split` repairs from the messages.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import BusinessHours, ChatMessage, Conversation, ConversationStats, HourlyStats, ReportCursor
from inbox.reply_window import RESPONSE_WINDOW
from inbox.reports.hours import Hours, hours_from_row, open_seconds

logger = logging.getLogger(__name__)

MESSAGES = "messages"
RESOLUTIONS = "resolutions"
RESOLVED_ACTION = "conversation.resolved"
BATCH = 2000
SETTLE = dt.timedelta(seconds=30)
# One run reads at most this many batches per stream; the next run goes on from there.
MAX_BATCHES = 50
EPISODE_FIELDS = (
    "team_pk",
    "assignee_pk",
    "first_response_at",
    "first_response_by_pk",
    "first_response_seconds",
    "first_response_open_seconds",
    "resolved_at",
    "resolved_by_pk",
    "resolution_seconds",
    "resolution_open_seconds",
    "last_inbound_at",
    "last_outbound_at",
    "awaiting_reply",
    "window_missed_at",
)
MESSAGE_FIELDS = (
    "id",
    "business_id",
    "account_id",
    "conversation_id",
    "direction",
    "kind",
    "status",
    "timestamp",
    "sent_by_id",
    "created_at",
)


@dataclass
class RollupRun:
    messages: int = 0
    resolutions: int = 0
    missed: int = 0
    batches: int = 0


@dataclass
class _Batch:
    """What one batch changes, written at its end."""

    latest: dict[int, ConversationStats] = field(default_factory=dict)  # conversation id -> its latest episode
    created: list[ConversationStats] = field(default_factory=list)
    changed: dict[int, ConversationStats] = field(default_factory=dict)
    hourly: dict[tuple, list[int]] = field(default_factory=dict)  # key -> [in, out, replies]
    hours: dict[int, Hours | None] = field(default_factory=dict)

    def touch(self, episode: ConversationStats) -> None:
        if episode.pk is None:
            if not any(episode is row for row in self.created):
                self.created.append(episode)
        else:
            self.changed[episode.pk] = episode

    def count(self, key: tuple, index: int) -> None:
        self.hourly.setdefault(key, [0, 0, 0])[index] += 1


def reports_rollup(
    *,
    now: dt.datetime | None = None,
    settle: dt.timedelta = SETTLE,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
) -> RollupRun:
    """Fold what changed since the last run into the rollups; returns what it read."""
    now = now or timezone.now()
    run = RollupRun()
    for _ in range(max_batches):
        read = _messages_batch(now=now, settle=settle, size=batch)
        run.messages += read
        run.batches += 1
        if read < batch:
            break
    for _ in range(max_batches):
        read = _resolutions_batch(size=batch)
        run.resolutions += read
        run.batches += 1
        if read < batch:
            break
    run.missed = windows_sweep(now=now)
    return run


def windows_sweep(*, now: dt.datetime | None = None) -> int:
    """Episodes whose customer has waited past the 24-hour window unanswered: record when it closed."""
    now = now or timezone.now()
    return ConversationStats.objects.filter(
        awaiting_reply=True,
        window_missed_at__isnull=True,
        resolved_at__isnull=True,
        last_inbound_at__lt=now - RESPONSE_WINDOW,
    ).update(window_missed_at=F("last_inbound_at") + RESPONSE_WINDOW)


def _cursor(name: str) -> ReportCursor:
    ReportCursor.objects.get_or_create(name=name)
    return ReportCursor.objects.select_for_update().get(name=name)


@transaction.atomic
def _messages_batch(*, now: dt.datetime, settle: dt.timedelta, size: int) -> int:
    cursor = _cursor(MESSAGES)
    rows = list(ChatMessage.objects.filter(pk__gt=cursor.last_id).order_by("pk").values(*MESSAGE_FIELDS)[:size])
    settled = now - settle
    taken = []
    for row in rows:
        if row["created_at"] > settled:
            break  # not yet settled: this one and everything after it wait for the next run
        taken.append(row)
    if not taken:
        return 0
    counted = [row for row in taken if _counts(row)]
    if counted:
        work = _Batch()
        conversation_ids = {row["conversation_id"] for row in counted}
        conversations = {
            row["pk"]: row
            for row in Conversation.objects.filter(pk__in=conversation_ids).values("pk", "team_id", "assignee_id")
        }
        work.latest = _latest_episodes(conversation_ids)
        _load_hours(work, {row["business_id"] for row in counted})
        for row in counted:
            conversation = conversations.get(row["conversation_id"])
            if conversation is not None:
                _apply_message(work, row, conversation)
        _write(work)
    cursor.last_id = taken[-1]["id"]
    cursor.save(update_fields=["last_id", "updated_at"])
    return len(taken)  # fewer than a batch (short or not yet settled) ends the run


def _counts(row: dict[str, Any]) -> bool:
    # Notes are staff talking among themselves, notices are Meta's; neither is a message in or out.
    if row["direction"] == ChatMessage.Direction.INTERNAL or row["kind"] in (
        ChatMessage.Kind.NOTICE,
        ChatMessage.Kind.NOTE,
    ):
        return False
    return not (row["direction"] == ChatMessage.Direction.OUTBOUND and row["status"] == ChatMessage.Status.FAILED)


def _latest_episodes(conversation_ids: set[int]) -> dict[int, ConversationStats]:
    latest_ids = (
        ConversationStats.objects.filter(conversation_id__in=conversation_ids)
        .values("conversation_id")
        .order_by()
        .annotate(latest=Max("id"))
        .values("latest")
    )
    return {row.conversation_id: row for row in ConversationStats.objects.filter(pk__in=latest_ids)}


def _load_hours(work: _Batch, business_ids: set[int]) -> None:
    work.hours = dict.fromkeys(business_ids)
    for row in BusinessHours.objects.filter(business_id__in=business_ids):
        work.hours[row.business_id] = hours_from_row(time_zone=row.time_zone, week=row.week)


def _apply_message(work: _Batch, row: dict[str, Any], conversation: Any) -> None:
    at: dt.datetime = row["timestamp"]
    team, assignee = conversation["team_id"] or 0, conversation["assignee_id"] or 0
    hour = at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    key = (row["business_id"], hour, row["account_id"], team, assignee)
    episode = work.latest.get(row["conversation_id"])
    if row["direction"] == ChatMessage.Direction.INBOUND:
        work.count(key, 0)
        if episode is None or (episode.resolved_at is not None and episode.resolved_at < at):
            episode = ConversationStats(
                business_id=row["business_id"],
                conversation_id=row["conversation_id"],
                account_id=row["account_id"],
                opened_at=at,
                last_inbound_at=at,
                awaiting_reply=True,
            )
            work.latest[row["conversation_id"]] = episode
        else:
            _inbound(episode, at)
    else:
        work.count(key, 1)
        work.count((row["business_id"], hour, row["account_id"], team, row["sent_by_id"] or 0), 2)
        if episode is None or at < episode.opened_at:
            return  # a message from the page before the customer wrote: no episode to answer
        _outbound(episode, at, row["sent_by_id"] or 0, work.hours.get(row["business_id"]))
    episode.team_pk, episode.assignee_pk = team, assignee
    work.touch(episode)


def _inbound(episode: ConversationStats, at: dt.datetime) -> None:
    if at <= episode.last_inbound_at:
        return  # an older message read late: the episode already waits from a later one
    if episode.awaiting_reply and episode.window_missed_at is None and episode.resolved_at is None:
        closed = episode.last_inbound_at + RESPONSE_WINDOW
        if closed < at:
            episode.window_missed_at = closed
    if not episode.awaiting_reply:
        episode.awaiting_reply = True
    episode.last_inbound_at = at


def _outbound(episode: ConversationStats, at: dt.datetime, by: int, hours: Hours | None) -> None:
    if episode.first_response_at is None:
        episode.first_response_at = at
        episode.first_response_by_pk = by
        episode.first_response_seconds = int((at - episode.opened_at).total_seconds())
        episode.first_response_open_seconds = open_seconds(episode.opened_at, at, hours) if hours else None
    if episode.last_outbound_at is None or at > episode.last_outbound_at:
        episode.last_outbound_at = at
    if at >= episode.last_inbound_at:
        episode.awaiting_reply = False


def _resolve(episode: ConversationStats, at: dt.datetime, by: int, hours: Hours | None) -> None:
    episode.resolved_at = at
    episode.resolved_by_pk = by
    episode.resolution_seconds = int((at - episode.opened_at).total_seconds())
    episode.resolution_open_seconds = open_seconds(episode.opened_at, at, hours) if hours else None


def _write(work: _Batch) -> None:
    if work.created:
        ConversationStats.objects.bulk_create(work.created)
    if work.changed:
        # One INSERT … ON CONFLICT (id) DO UPDATE: far cheaper than bulk_update's CASE per field and row.
        ConversationStats.objects.bulk_create(
            list(work.changed.values()), update_conflicts=True, unique_fields=["id"], update_fields=EPISODE_FIELDS
        )
    if not work.hourly:
        return
    hours = {key[1] for key in work.hourly}
    business_ids = {key[0] for key in work.hourly}
    existing = {
        (row.business_id, row.hour, row.account_id, row.team_pk, row.agent_pk): row
        for row in HourlyStats.objects.filter(business_id__in=business_ids, hour__in=hours)
    }
    updated, created = [], []
    for key, (messages_in, messages_out, replies) in work.hourly.items():
        row = existing.get(key)
        if row is None:
            business_id, hour, account_id, team_pk, agent_pk = key
            created.append(
                HourlyStats(
                    business_id=business_id,
                    hour=hour,
                    account_id=account_id,
                    team_pk=team_pk,
                    agent_pk=agent_pk,
                    messages_in=messages_in,
                    messages_out=messages_out,
                    replies=replies,
                )
            )
        else:
            row.messages_in += messages_in
            row.messages_out += messages_out
            row.replies += replies
            updated.append(row)
    if created:
        HourlyStats.objects.bulk_create(created)
    if updated:
        HourlyStats.objects.bulk_create(
            updated,
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["messages_in", "messages_out", "replies"],
        )


@transaction.atomic
def _resolutions_batch(*, size: int) -> int:
    cursor = _cursor(RESOLUTIONS)
    rows = list(
        AuditEvent.objects.filter(pk__gt=cursor.last_id, action=RESOLVED_ACTION, business__isnull=False)
        .order_by("pk")
        .values("id", "business_id", "actor_id", "target_id", "created_at")[:size]
    )
    if not rows:
        return 0
    wanted: dict[int, int] = {}  # conversation id -> its business, as the audit row says
    for row in rows:
        if str(row["target_id"]).isdigit():
            wanted[int(row["target_id"])] = row["business_id"]
    # Only conversations of the business that resolved them (an id is never trusted across businesses).
    conversations = {
        row["pk"]: row
        for row in Conversation.objects.filter(pk__in=wanted).values("pk", "business_id", "team_id", "assignee_id")
        if wanted[row["pk"]] == row["business_id"]
    }
    work = _Batch(latest=_latest_episodes(set(conversations)))
    _load_hours(work, {row["business_id"] for row in conversations.values()})
    for row in rows:
        pk = int(row["target_id"]) if str(row["target_id"]).isdigit() else None
        conversation = conversations.get(pk) if pk is not None else None
        episode = work.latest.get(pk) if pk is not None else None
        if conversation is None or episode is None or episode.resolved_at is not None:
            continue
        at: dt.datetime = row["created_at"]
        if at < episode.opened_at:
            continue  # resolved before this episode began: it was a resolve of an earlier one
        hours = work.hours.get(conversation["business_id"])
        later = episode.last_inbound_at > at
        _resolve(episode, at, row["actor_id"] or 0, hours)
        episode.team_pk, episode.assignee_pk = conversation["team_id"] or 0, conversation["assignee_id"] or 0
        work.touch(episode)
        if later:
            _split(work, episode, hours)
    _write(work)
    cursor.last_id = rows[-1]["id"]
    cursor.save(update_fields=["last_id", "updated_at"])
    return len(rows)


def _split(work: _Batch, episode: ConversationStats, hours: Hours | None) -> None:
    """The customer wrote after the resolve that ended ``episode``, and those messages were folded into
    it before the resolve was read: end it at the resolve and start the next episode from the messages."""
    assert episode.resolved_at is not None
    after = (
        ChatMessage.objects.filter(
            conversation_id=episode.conversation_id,
            timestamp__gt=episode.resolved_at,
            direction__in=(ChatMessage.Direction.INBOUND, ChatMessage.Direction.OUTBOUND),
        )
        .exclude(kind__in=(ChatMessage.Kind.NOTICE, ChatMessage.Kind.NOTE))
        .exclude(
            direction=ChatMessage.Direction.OUTBOUND,
            status=ChatMessage.Status.FAILED,
        )
        .order_by("timestamp", "id")
        .values_list("direction", "timestamp", "sent_by_id")
    )
    rows = list(after)
    first_in = next((at for direction, at, _ in rows if direction == ChatMessage.Direction.INBOUND), None)
    if first_in is None:
        return
    following = ConversationStats(
        business_id=episode.business_id,
        conversation_id=episode.conversation_id,
        account_id=episode.account_id,
        team_pk=episode.team_pk,
        assignee_pk=episode.assignee_pk,
        opened_at=first_in,
        last_inbound_at=first_in,
    )
    for direction, at, by in rows:
        if at < first_in:
            continue
        if direction == ChatMessage.Direction.INBOUND:
            _inbound(following, at)
        else:
            _outbound(following, at, by or 0, hours)
    # The ended episode keeps only what happened before its resolve.
    episode.last_inbound_at = min(episode.last_inbound_at, episode.resolved_at)
    if episode.last_outbound_at is not None and episode.last_outbound_at > episode.resolved_at:
        episode.last_outbound_at = None
    if episode.first_response_at is not None and episode.first_response_at > episode.resolved_at:
        episode.first_response_at = None
        episode.first_response_by_pk = 0
        episode.first_response_seconds = episode.first_response_open_seconds = None
    work.latest[episode.conversation_id] = following
    work.touch(following)


def business_hours_recompute(*, business_id: int, batch: int = BATCH) -> int:
    """Count again the in-hours seconds of a business's episodes after its hours changed; returns how many."""
    row = BusinessHours.objects.filter(business_id=business_id).first()
    hours = hours_from_row(time_zone=row.time_zone, week=row.week) if row else None
    done, last = 0, 0
    while True:
        episodes = list(ConversationStats.objects.filter(business_id=business_id, pk__gt=last).order_by("pk")[:batch])
        if not episodes:
            return done
        for episode in episodes:
            episode.first_response_open_seconds = (
                open_seconds(episode.opened_at, episode.first_response_at, hours)
                if hours and episode.first_response_at
                else None
            )
            episode.resolution_open_seconds = (
                open_seconds(episode.opened_at, episode.resolved_at, hours) if hours and episode.resolved_at else None
            )
        ConversationStats.objects.bulk_update(episodes, ("first_response_open_seconds", "resolution_open_seconds"))
        done += len(episodes)
        last = episodes[-1].pk
