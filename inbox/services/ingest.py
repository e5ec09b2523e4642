"""Apply parsed webhook events to one connected account, idempotently (docs/messenger-platform.md §4–§5).

Everything here may run twice for the same event (Meta redelivers, workers are killed mid-task,
operators replay), and two workers may handle the same customer at once. The rules that make that
harmless:

- a message is one row per ``(account, mid)``: ``INSERT ... ON CONFLICT DO NOTHING``, and when
  nothing was inserted the message is already stored, so nothing else happens (no counter moves,
  no task is queued);
- contacts and conversations are read-or-inserted on their unique constraints (``contacts``);
- counters and "latest" fields are updated in SQL (``conversation_bumps_apply``: ``unread_count +
  n``, ``CASE WHEN`` on the stored time), never computed in Python from a row read earlier, and
  times only move forward;
- reactions, edits and deletes carry their event time and are skipped when already applied; when
  they name a message not stored yet they wait as a ``PendingMessageUpdate`` (``message_updates``);
- receipts only move outbound statuses forward (``receipts``), and are applied after the other
  events of a batch so their effect does not depend on the order Meta batched them in.

Two ways to apply (``events_apply``): a drain's batch (``isolate=False``) shares one
``AccountBatch`` per account for all its stored events, creates their contacts and conversations
in bulk, inserts customers' messages together and writes each conversation once at the end; if
anything raises, the caller rolls the batch back and applies each stored event on its own, where
every event of a webhook runs in its own savepoint, so one bad event is recorded and the others
still apply. Database outages (``OperationalError`` / ``InterfaceError``) are re-raised so the
task retries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, router, transaction
from django.db.models import DateTimeField, Q, Value
from django.utils import timezone

from inbox.facebook.events import (
    Delivery,
    Event,
    MessageDeleted,
    MessageEdit,
    MessageEvent,
    Postback,
    Reaction,
    Read,
    Referral,
    Unknown,
)
from inbox.models import ChatMessage, Conversation, PendingMessageUpdate
from inbox.services import contacts as contact_services
from inbox.services.media import attachment_label, attachments_create
from inbox.services.message_updates import message_update_apply
from inbox.services.receipts import receipt_delivery_apply, receipt_read_apply
from inbox.services.replies import reply_window
from inbox.services.rows import insert_ignoring_conflicts
from inbox.text import clean_json, clean_text, truncate

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

PREVIEW_LENGTH: int = Conversation._meta.get_field("last_message_preview").max_length or 255
MID_LENGTH = ChatMessage._meta.get_field("message_id").max_length
UNSUPPORTED_PREVIEW = "Unsupported message"

Direction = ChatMessage.Direction
Status = ChatMessage.Status
UpdateKind = PendingMessageUpdate.Kind


@dataclass
class Bump:
    """What newly stored messages change on their conversation, summed until the batch commits."""

    timestamp: datetime
    preview: str
    direction: str
    inbound: int = 0
    last_inbound_at: datetime | None = None

    def add(self, other: Bump) -> None:
        # Equal times: the later message wins, as if the two updates ran one after the other.
        if other.timestamp >= self.timestamp:
            self.timestamp, self.preview, self.direction = other.timestamp, other.preview, other.direction
        self.inbound += other.inbound
        if other.last_inbound_at is not None:
            self.last_inbound_at = max(filter(None, (self.last_inbound_at, other.last_inbound_at)))


def bump_merge(bumps: dict[int, Bump], conversation_id: int, bump: Bump) -> None:
    current = bumps.get(conversation_id)
    if current is None:
        bumps[conversation_id] = bump
    else:
        current.add(bump)


@dataclass
class Changes:
    """What to write last and broadcast after commit: touched ids and the conversations' bumps.

    The bumps are applied by ``conversation_bumps_apply`` once per conversation per transaction, in
    id order, so two workers applying batches at once always lock conversation rows in the same order.
    """

    conversation_ids: set[int] = field(default_factory=set)
    message_ids: set[int] = field(default_factory=set)
    bumps: dict[int, Bump] = field(default_factory=dict)
    # Conversations whose open-pane header or composer may look different (see ``_store``);
    # for the others a push carries only the list row and the messages.
    pane_ids: set[int] = field(default_factory=set)

    def add(self, *, conversation_id: int | None = None, message_id: int | None = None) -> None:
        if conversation_id is not None:
            self.conversation_ids.add(conversation_id)
        if message_id is not None:
            self.message_ids.add(message_id)

    def bump(self, conversation_id: int, bump: Bump) -> None:
        bump_merge(self.bumps, conversation_id, bump)

    def update(self, other: Changes) -> None:
        self.conversation_ids |= other.conversation_ids
        self.message_ids |= other.message_ids
        self.pane_ids |= other.pane_ids
        for conversation_id, bump in other.bumps.items():
            self.bump(conversation_id, bump)

    def __bool__(self) -> bool:
        return bool(self.conversation_ids or self.message_ids)


@dataclass
class ApplyResult:
    changes: Changes
    errors: list[str]
    applied: int = 0


@dataclass
class _Unsaved:
    """A message built from an event, with what storing it also needs."""

    message: ChatMessage
    conversation: Conversation
    attachments: tuple
    preview: str


class AccountBatch:
    """What one account's events in one transaction share: caches that save a query per event.

    Create it with every event of the account the transaction will apply (their mids are used to
    load the waiting reactions and edits in one query).
    """

    def __init__(self, *, account: SocialAccount, events: list[Event]) -> None:
        self.account = account
        self.conversations: dict[str, Conversation] = {}
        # Updates waiting for the messages of this batch, loaded in one query on first use.
        self.batch_mids = {clean_text(e.mid, max_length=MID_LENGTH) for e in events if isinstance(e, MessageEvent)}
        self.pending: dict[str, list[PendingMessageUpdate]] | None = None
        # Bumps of the events applied without a savepoint, written by the caller before commit.
        self.bumps: dict[int, Bump] = {}
        # Customers' messages waiting to be inserted together (None: insert each at once).
        self.deferred: list[_Unsaved] | None = None
        self.deferred_mids: set[str] = set()

    def defer(self, unsaved: _Unsaved) -> None:
        assert self.deferred is not None, "defer() is only called while deferring"
        mid = unsaved.message.message_id or ""
        if mid in self.deferred_mids:
            return  # the same message twice in the batch (a redelivery): stored once
        self.deferred.append(unsaved)
        self.deferred_mids.add(mid)

    def flush(self, changes: Changes) -> None:
        """Insert the deferred messages, then do what follows each insert (``_stored``)."""
        if not self.deferred:
            return
        deferred, self.deferred, self.deferred_mids = self.deferred, [], set()
        _insert([unsaved.message for unsaved in deferred])
        for unsaved in deferred:
            if unsaved.message.pk is not None:
                _stored(self, changes, unsaved)

    def prefetch(self, events: list[Event]) -> None:
        """Load (and create) the conversations these events need, in a few queries for them all."""
        first_seen: dict[str, datetime] = {}
        lookup_only: set[str] = set()
        now = timezone.now()
        for event in events:
            if isinstance(event, MessageEvent | Postback | Referral):
                customer = clean_text(event.customer_id if isinstance(event, MessageEvent) else event.sender_id, max_length=64)
                when = event.timestamp or now
                if customer:
                    first_seen[customer] = min(first_seen.get(customer, when), when)
            elif isinstance(event, Delivery | Read) and event.sender_id:
                lookup_only.add(clean_text(event.sender_id, max_length=64))
        wanted = (set(first_seen) | lookup_only) - set(self.conversations)
        if not wanted:
            return
        found, created = contact_services.conversations_get_or_create(
            account=self.account,
            first_seen={k: v for k, v in first_seen.items() if k in wanted},
            lookup_only=lookup_only & wanted,
        )
        for external_id, conversation in found.items():
            if contact_services.contact_profile_needed(
                contact=conversation.contact, created=conversation.contact_id in created
            ):
                contact_services.contact_profile_fetch_enqueue(contact_id=conversation.contact_id)
            conversation.account = self.account
            self.conversations[external_id] = conversation

    def bump_now(self, conversation_id: int, changes: Changes) -> None:
        """Write a conversation's waiting bump before something else changes its preview."""
        waiting: dict[int, Bump] = {}
        for source in (self.bumps, changes.bumps):
            bump = source.pop(conversation_id, None)
            if bump is not None:
                bump_merge(waiting, conversation_id, bump)
        conversation_bumps_apply(waiting)

    def forget(self) -> None:
        """After a rolled-back event, cached rows may not exist any more."""
        self.conversations.clear()
        self.batch_mids = set()
        self.pending = None

    def pending_for(self, mid: str) -> list[PendingMessageUpdate]:
        if mid not in self.batch_mids:
            return list(self._pending_query(target_mid=mid))
        if self.pending is None:
            self.pending = {}
            for update in self._pending_query(target_mid__in=self.batch_mids):
                self.pending.setdefault(update.target_mid, []).append(update)
        return self.pending.pop(mid, [])

    def pending_added(self, update: PendingMessageUpdate) -> None:
        if self.pending is not None and update.target_mid in self.batch_mids:
            self.pending.setdefault(update.target_mid, []).append(update)

    def _pending_query(self, **lookup: Any):
        return PendingMessageUpdate.objects.filter(account=self.account, **lookup).order_by("event_timestamp", "pk")

    def conversation(self, *, external_id: str, timestamp: datetime, create: bool = True) -> Conversation | None:
        external_id = clean_text(external_id, max_length=64)
        conversation = self.conversations.get(external_id)
        if conversation is not None:
            return conversation
        conversation = contact_services.conversation_find(account=self.account, external_id=external_id)
        created = False
        if conversation is None:
            if not create:
                return None
            contact, created = contact_services.contact_get_or_create(account=self.account, external_id=external_id)
            conversation, _ = contact_services.conversation_get_or_create(
                account=self.account, contact=contact, timestamp=timestamp
            )
            conversation.contact = contact
        if contact_services.contact_profile_needed(contact=conversation.contact, created=created):
            contact_services.contact_profile_fetch_enqueue(contact_id=conversation.contact_id)
        conversation.account = self.account
        self.conversations[external_id] = conversation
        return conversation


def events_apply(
    *, account: SocialAccount, events: list[Event], isolate: bool = True, batch: AccountBatch | None = None
) -> ApplyResult:
    """Apply ``events`` (all of ``account``) in order; one failing event does not stop the others.

    ``isolate=False`` skips the savepoint around each event: the caller's transaction rolls back as
    a whole on error (a webhook holding a single event, or a batch the caller retries event by event).
    Then the conversations' bumps wait in ``batch.bumps``: a caller passing its own ``batch`` writes
    them with ``conversation_bumps_apply`` before committing (once per conversation for the batch).
    """
    own_batch = batch is None
    batch = batch or AccountBatch(account=account, events=events)
    result = ApplyResult(changes=Changes(), errors=[])
    # Receipts go last: they only ever move statuses forward, and a receipt batched before the
    # message or echo it covers would otherwise apply on a replay but not the first time.
    ordered = [e for e in events if not isinstance(e, Delivery | Read)] + [
        e for e in events if isinstance(e, Delivery | Read)
    ]
    if not isolate:
        # No savepoints: customers' messages can wait and be inserted together. They are flushed
        # before any other kind of event, which may need them stored (a reaction to one of them).
        batch.deferred = []

    def absorb(changes: Changes) -> None:
        for conversation_id, bump in changes.bumps.items():
            bump_merge(batch.bumps, conversation_id, bump)
        changes.bumps.clear()
        result.changes.update(changes)

    for event in ordered:
        changes = Changes()
        if not isolate:
            if not _deferrable(event):
                batch.flush(changes)
            _apply(batch, event, changes)
            absorb(changes)
            result.applied += 1
            continue
        try:
            with transaction.atomic():
                _apply(batch, event, changes)
                conversation_bumps_apply(changes.bumps)
                changes.bumps.clear()
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            logger.exception("Webhook %s for account %s failed", type(event).__name__, account.pk)
            result.errors.append(f"{type(event).__name__} {getattr(event, 'mid', '') or ''}: {exc!r}"[:1000])
            batch.forget()
            continue
        result.applied += 1
        result.changes.update(changes)
    if not isolate:
        changes = Changes()
        batch.flush(changes)
        absorb(changes)
        batch.deferred = None
    if own_batch:
        conversation_bumps_apply(batch.bumps)
        batch.bumps.clear()
    return result


def _deferrable(event: Event) -> bool:
    """Events that only add a customer's message (their insert can wait for the batch's others)."""
    return isinstance(event, Postback | Referral) or (isinstance(event, MessageEvent) and not event.is_echo)


def _apply(batch: AccountBatch, event: Event, changes: Changes) -> None:
    if isinstance(event, MessageEvent):
        if event.is_echo:
            _echo(batch, event, changes)
        else:
            _inbound_message(batch, event, changes)
    elif isinstance(event, (Delivery, Read)):
        _receipt(batch, event, changes)
    elif isinstance(event, Reaction):
        _update_or_wait(batch, event, changes, kind=UpdateKind.REACTION, payload=_reaction_payload(event))
    elif isinstance(event, MessageEdit):
        payload = {"text": clean_text(event.text), "num_edit": event.num_edit, "ts": _ms(event.timestamp)}
        _update_or_wait(batch, event, changes, kind=UpdateKind.EDIT, payload=payload)
    elif isinstance(event, MessageDeleted):
        _update_or_wait(batch, event, changes, kind=UpdateKind.DELETE, payload={"ts": _ms(event.timestamp)})
    elif isinstance(event, Postback):
        _postback(batch, event, changes)
    elif isinstance(event, Referral):
        _referral(batch, event, changes)
    elif isinstance(event, Unknown):
        logger.info("Skipped webhook event of kind %r for account %s", event.kind, batch.account.pk)
    else:  # pragma: no cover - a new event class without a handler
        logger.warning("No handler for %s", type(event).__name__)


# --- helpers --------------------------------------------------------------------------------------


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def synthetic_mid(kind: str, event: Event) -> str:
    """A stable id for events Meta sends without a mid, so redeliveries are recognised too."""
    stamp = _ms(event.timestamp)
    if stamp is None:
        stamp_text = hashlib.sha256(json.dumps(event.raw, sort_keys=True, default=str).encode()).hexdigest()[:24]
    else:
        stamp_text = str(stamp)
    return clean_text(f"{kind}:{event.sender_id}:{stamp_text}", max_length=MID_LENGTH)


def _dt(value: datetime) -> Value:
    return Value(value, output_field=DateTimeField())


def conversation_bumps_apply(bumps: dict[int, Bump]) -> None:
    """Record newly stored messages on their conversations, computed by the database.

    ``last_message_*`` only move forward (an older message arriving late leaves them alone); the
    unread counter is incremented in SQL so concurrent workers never lose a count. One statement
    shape, sent for every conversation in one ``executemany`` (the ORM would build and compile an
    expression tree per row), in id order (see ``Changes``).
    """
    if not bumps:
        return
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    plain, inbound = [], []
    for conversation_id in sorted(bumps):
        bump = bumps[conversation_id]
        when = ops.adapt_datetimefield_value(bump.timestamp)
        row = [when, bump.preview, when, bump.direction, when, when, now]
        if bump.inbound:
            last_inbound = ops.adapt_datetimefield_value(bump.last_inbound_at or bump.timestamp)
            inbound.append([*row, bump.inbound, last_inbound, last_inbound, Conversation.Status.OPEN, conversation_id])
        else:
            plain.append([*row, conversation_id])
    update, inbound_fields = _bump_sql()
    with connection.cursor() as cursor:
        if plain:
            cursor.executemany(update.format(inbound=""), plain)
        if inbound:
            cursor.executemany(update.format(inbound=inbound_fields), inbound)


@functools.cache
def _bump_sql() -> tuple[str, str]:
    """The UPDATE of ``conversation_bumps_apply``, built from the model (no user input reaches it)."""
    column = {f.name: connection.ops.quote_name(f.column or f.name) for f in Conversation._meta.concrete_fields}
    at, preview, direction = column["last_message_at"], column["last_message_preview"], column["last_message_direction"]
    inbound_at = column["last_inbound_at"]
    # Every right-hand side sees the row as it was before this UPDATE (standard SQL; PostgreSQL and SQLite).
    # Table and column names come from the model.
    update = (
        f"UPDATE {connection.ops.quote_name(Conversation._meta.db_table)} SET "  # noqa: S608
        f"{preview} = CASE WHEN {at} <= %s THEN %s ELSE {preview} END, "
        f"{direction} = CASE WHEN {at} <= %s THEN %s ELSE {direction} END, "
        f"{at} = CASE WHEN {at} < %s THEN %s ELSE {at} END, "
        f"{column['updated_at']} = %s{{inbound}} WHERE {column['id']} = %s"
    )
    inbound = (
        f", {column['unread_count']} = {column['unread_count']} + %s, "
        f"{inbound_at} = CASE WHEN {inbound_at} IS NULL OR {inbound_at} < %s THEN %s ELSE {inbound_at} END, "
        # A customer writing again reopens an archived conversation.
        f"{column['status']} = %s"
    )
    return update, inbound


def _preview(*, text: str, attachments: tuple = (), fallback: str = "") -> str:
    if text.strip():
        return truncate(" ".join(text.split()), PREVIEW_LENGTH)
    if attachments:
        return attachment_label(attachments[0].type)
    return truncate(fallback, PREVIEW_LENGTH)


def _insert(messages: list[ChatMessage]) -> None:
    """Insert the messages whose (account, mid) is not stored yet (``rows.insert_ignoring_conflicts``).

    Sets the pk of each message inserted; those already stored (a redelivery) keep ``pk`` None. Rows
    go in mid order, so two workers inserting overlapping batches take the unique index's locks in
    the same order (no deadlock).
    """
    ordered = sorted(messages, key=lambda m: m.message_id or "")
    by_mid = {m.message_id: m for m in ordered}
    using = router.db_for_write(ChatMessage)
    for pk, mid in insert_ignoring_conflicts(ordered, returning=("pk", "message_id")):
        message = by_mid[mid]
        message.pk = pk
        message._state.adding = False
        message._state.db = using
    missing = [m.message_id or "" for m in ordered if m.pk is None]
    if missing:
        # Not inserted: each must be a duplicate. SQLite's OR IGNORE would also swallow other
        # constraint failures, which must not pass for a redelivery.
        stored = set(
            ChatMessage.objects.filter(account_id=ordered[0].account_id, message_id__in=missing)
            .values_list("message_id", flat=True)
        )
        lost = sorted(set(missing) - stored)
        if lost:
            raise IntegrityError(f"Messages {lost!r} were neither inserted nor already stored")


def _store(
    batch: AccountBatch,
    changes: Changes,
    *,
    event: Event,
    customer_id: str,
    mid: str,
    direction: str,
    source: str,
    kind: str = ChatMessage.Kind.MESSAGE,
    content: str = "",
    extra: dict[str, Any] | None = None,
    attachments: tuple = (),
    reply_to_mid: str | None = None,
    preview: str = "",
    defer: bool = False,
) -> ChatMessage | None:
    """Store one message (inbound or an outbound echo) once; returns it, or None if already stored.

    ``defer``: when the batch collects messages (``AccountBatch.deferred``), add it there and
    return None; the batch inserts them together.
    """
    account = batch.account
    timestamp = event.timestamp or timezone.now()
    conversation = batch.conversation(external_id=customer_id, timestamp=timestamp)
    assert conversation is not None  # created when missing
    inbound = direction == Direction.INBOUND
    extra = clean_json(extra or {})
    if event.is_standby:
        extra["standby"] = True
    message = ChatMessage(
        business_id=account.business_id,
        platform=account.platform,
        account=account,
        conversation=conversation,
        message_id=clean_text(mid, max_length=MID_LENGTH),
        direction=direction,
        kind=kind,
        source=source,
        sender_id=clean_text(event.sender_id, max_length=64),
        sender_name=clean_text(
            conversation.contact.display_name if inbound else account.account_name, max_length=255
        ),
        content=clean_text(content),
        media_urls=[clean_text(a.url) for a in attachments if a.url],
        timestamp=timestamp,
        status=Status.RECEIVED if inbound else Status.SENT,
        sent_at=None if inbound else timestamp,
        extra=extra,
    )
    if reply_to_mid:
        message.reply_to_mid = clean_text(reply_to_mid, max_length=MID_LENGTH)
        if message.reply_to_mid in batch.deferred_mids:
            batch.flush(changes)  # the message it answers must be stored first
        message.reply_to = (
            ChatMessage.objects.filter(account=account, message_id=message.reply_to_mid).only("pk").first()
        )
    unsaved = _Unsaved(
        message=message,
        conversation=conversation,
        attachments=attachments,
        preview=clean_text(preview or _preview(text=message.content, attachments=attachments)),
    )
    if defer and batch.deferred is not None:
        # Inserted with the batch's other messages by ``AccountBatch.flush``.
        batch.defer(unsaved)
        return None
    _insert([message])
    if message.pk is None:
        return None
    _stored(batch, changes, unsaved)
    return message


def _stored(batch: AccountBatch, changes: Changes, unsaved: _Unsaved) -> None:
    """What follows a message's insert: attachments, the conversation's bump, waiting updates."""
    message, conversation = unsaved.message, unsaved.conversation
    inbound = message.direction == Direction.INBOUND
    attachments_create(message=message, attachments=unsaved.attachments)
    changes.bump(
        conversation.pk,
        Bump(
            timestamp=message.timestamp,
            preview=unsaved.preview,
            direction=message.direction,
            inbound=int(inbound),
            last_inbound_at=message.timestamp if inbound else None,
        ),
    )
    changes.add(conversation_id=conversation.pk, message_id=message.pk)
    if inbound and (
        conversation.status != Conversation.Status.OPEN or reply_window(conversation=conversation).state != "open"
    ):
        # A customer's message reopens an archived conversation and opens a closed reply window:
        # then the header (Archive/Reopen) and the composer change. Otherwise they stay as they are.
        changes.pane_ids.add(conversation.pk)
    for update in batch.pending_for(message.message_id or ""):
        batch.bump_now(conversation.pk, changes)
        if message_update_apply(message=message, kind=update.kind, payload=update.payload, account=batch.account):
            changes.add(conversation_id=message.conversation_id, message_id=message.pk)
        update.delete()


# --- messages -------------------------------------------------------------------------------------


def _message_extra(event: MessageEvent) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if event.quick_reply_payload is not None:
        extra["quick_reply_payload"] = event.quick_reply_payload
    if event.reply_to_story:
        extra["reply_to_story"] = event.reply_to_story
    mention = next((a for a in event.attachments if a.type == "story_mention"), None)
    if mention is not None:
        extra["story_mention"] = {"url": mention.url}
    if event.referral:
        extra["referral"] = event.referral
    if event.is_unsupported:
        extra["is_unsupported"] = True
    return extra


def _inbound_message(batch: AccountBatch, event: MessageEvent, changes: Changes) -> None:
    _store(
        batch,
        changes,
        event=event,
        customer_id=event.sender_id,
        mid=event.mid,
        direction=Direction.INBOUND,
        source=ChatMessage.Source.CUSTOMER,
        content=event.text,
        extra=_message_extra(event),
        attachments=event.attachments,
        reply_to_mid=event.reply_to_mid,
        preview="" if not event.is_unsupported or event.text else UNSUPPORTED_PREVIEW,
        defer=True,
    )


def _echo(batch: AccountBatch, event: MessageEvent, changes: Changes) -> None:
    """A message the page sent: ours (matched to the row we sent) or typed in Meta's own apps."""
    account = batch.account
    mid = clean_text(event.mid, max_length=MID_LENGTH)
    match = Q(message_id=mid)
    if event.metadata:
        match |= Q(client_token=clean_text(event.metadata, max_length=64))
    candidates = list(ChatMessage.objects.filter(account=account).filter(match)[:2])
    ours = next((m for m in candidates if event.metadata and m.client_token == event.metadata), None)
    ours = ours or next(iter(candidates), None)
    if ours is not None:
        _echo_confirm(ours, mid=mid, timestamp=event.timestamp, changes=changes)
        return
    own_app = bool(event.app_id) and event.app_id == str(settings.FACEBOOK_APP_ID)
    message = _store(
        batch,
        changes,
        event=event,
        customer_id=event.recipient_id,
        mid=mid,
        direction=Direction.OUTBOUND,
        source=ChatMessage.Source.INBOX if own_app else ChatMessage.Source.META,
        content=event.text,
        extra={**_message_extra(event), **({"app_id": event.app_id} if event.app_id else {})},
        attachments=event.attachments,
        reply_to_mid=event.reply_to_mid,
    )
    if message is not None:
        # A reply typed in Meta's apps answers what the customer wrote before it.
        ChatMessage.objects.filter(
            conversation_id=message.conversation_id, direction=Direction.INBOUND, is_replied=False,
            timestamp__lte=message.timestamp,
        ).update(is_replied=True)


def _echo_confirm(message: ChatMessage, *, mid: str, timestamp: datetime | None, changes: Changes) -> None:
    """Our own send came back: record Meta's mid and move the status to at least ``sent``.

    The echo proves Meta accepted the message, so even a send we had marked failed (e.g. a timeout
    whose answer was lost) is sent. Delivered / read are left as they are.
    """
    fields: dict[str, Any] = {}
    if not message.message_id:
        fields["message_id"] = mid
    if message.status in (Status.QUEUED, Status.FAILED, Status.RECEIVED):
        fields.update(status=Status.SENT, error="", error_code=None)
    if message.sent_at is None:
        fields["sent_at"] = timestamp or timezone.now()
    if not fields:
        return
    ChatMessage.objects.filter(pk=message.pk).update(**fields, updated_at=timezone.now())
    changes.add(conversation_id=message.conversation_id, message_id=message.pk)


def _postback(batch: AccountBatch, event: Postback, changes: Changes) -> None:
    title = event.title or event.payload or "Button tapped"
    extra: dict[str, Any] = {"payload": event.payload}
    if event.referral:
        extra["referral"] = event.referral
    _store(
        batch,
        changes,
        event=event,
        customer_id=event.sender_id,
        mid=event.mid or synthetic_mid("postback", event),
        direction=Direction.INBOUND,
        source=ChatMessage.Source.CUSTOMER,
        kind=ChatMessage.Kind.POSTBACK,
        content=title,
        extra=extra,
        defer=True,
    )


def referral_text(*, source: str | None) -> str:
    if (source or "").upper() == "ADS":
        return "Opened the conversation from an ad"
    return "Opened the conversation from a link"


def _referral(batch: AccountBatch, event: Referral, changes: Changes) -> None:
    _store(
        batch,
        changes,
        event=event,
        customer_id=event.sender_id,
        mid=synthetic_mid("referral", event),
        direction=Direction.INBOUND,
        source=ChatMessage.Source.CUSTOMER,
        kind=ChatMessage.Kind.REFERRAL,
        content=referral_text(source=event.source),
        extra=dict(event.data),
        defer=True,
    )


# --- reactions, edits, deletes --------------------------------------------------------------------


def _reaction_payload(event: Reaction) -> dict[str, Any]:
    return {
        "action": event.action,
        "reaction": event.reaction,
        "emoji": event.emoji,
        "sender_id": event.sender_id,
        "ts": _ms(event.timestamp),
    }


def _update_or_wait(
    batch: AccountBatch, event: Reaction | MessageEdit | MessageDeleted, changes: Changes, *, kind: str,
    payload: dict[str, Any],
) -> None:
    account = batch.account
    mid = clean_text(event.mid, max_length=MID_LENGTH)
    payload = clean_json(payload)
    message = ChatMessage.objects.select_for_update().filter(account=account, message_id=mid).first()
    if message is not None:
        batch.bump_now(message.conversation_id, changes)
        if message_update_apply(message=message, kind=kind, payload=payload, account=account):
            changes.add(conversation_id=message.conversation_id, message_id=message.pk)
        return
    # The message it names has not arrived (or was sent before this page was connected): wait for it.
    waiting = PendingMessageUpdate.objects.filter(account=account, target_mid=mid, kind=kind)
    if any(update.payload == payload for update in waiting):
        return
    update = PendingMessageUpdate.objects.create(
        business_id=account.business_id,
        account=account,
        target_mid=mid,
        kind=kind,
        payload=payload,
        event_timestamp=event.timestamp,
    )
    batch.pending_added(update)


# --- receipts -------------------------------------------------------------------------------------


def _receipt(batch: AccountBatch, event: Delivery | Read, changes: Changes) -> None:
    conversation = batch.conversation(external_id=event.sender_id, timestamp=timezone.now(), create=False)
    if conversation is None:
        kind = "Delivery" if isinstance(event, Delivery) else "Read"
        logger.info("%s receipt for an unknown conversation on account %s skipped", kind, batch.account.pk)
        return
    if isinstance(event, Delivery):
        changed, message_ids = receipt_delivery_apply(conversation=conversation, event=event)
    else:
        changed, message_ids = receipt_read_apply(conversation=conversation, event=event)
    if changed:
        changes.add(conversation_id=conversation.pk)
        changes.message_ids.update(message_ids)
