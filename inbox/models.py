from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import BusinessQuerySet
from social.models import Platform


class WebhookEvent(models.Model):
    """One signed POST from Meta, stored before the 200 is returned.

    The body is kept as the exact bytes received (a binary column: a text column could not hold a NUL
    byte or invalid UTF-8, and the signature was computed over these bytes). One POST may carry
    entries of several pages and businesses, so the event itself belongs to no tenant.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        UNROUTABLE = "unroutable", "Unroutable (page not connected)"
        # Sent by the Test button of the App Dashboard's webhook settings (entry id "0"): it shows the
        # callback is reachable, names no account, and is never a failure.
        TEST = "test", "Test event from Meta"

    body = models.BinaryField()
    signature = models.CharField(max_length=80, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    object_type = models.CharField(max_length=32, blank=True)
    # Filled while processing: every entry id in the body, and those no connected account matched.
    account_ids = models.JSONField(default=list, blank=True)
    unroutable_account_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        indexes = [models.Index(fields=("state", "received_at"), name="webhook_event_state_time")]

    def __str__(self) -> str:
        return f"Webhook event {self.pk} ({self.state})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class WebhookEventHour(models.Model):
    """How many webhook events named one Page or Instagram id in one hour (by when Meta delivered them).

    Kept by the drain as it first processes each event (inbox/ingest/event_hours.py), so channel health
    reads 48 rows for its chart instead of counting every event of two days (50,000 for a busy page).
    Keyed by Meta's id, not the account, like the events themselves: events for a page not yet
    connected count too. Replays are not counted again; rows outlive the raw events' retention.
    """

    object_type = models.CharField(max_length=32)
    meta_id = models.CharField(max_length=64)
    hour = models.DateTimeField()
    received = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("object_type", "meta_id", "hour"), name="webhook_event_hour_unique")
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.meta_id} at {self.hour:%Y-%m-%d %H}:00: {self.received}"

    @staticmethod
    def hour_of(when: dt.datetime) -> dt.datetime:
        """The UTC hour a time falls in (the rows' `hour`)."""
        return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def contact_display_name(*, name: str, username: str, external_id: str) -> str:
    """How staff see a contact (``Contact.display_name``), from its fields alone."""
    # Until the profile lookup has run, staff see the id, as Meta gave it.
    if name or username:
        return name or f"@{username}"
    return "Website chat visitor" if external_id.startswith(Contact.USER_REF_PREFIX) else external_id


class Contact(models.Model):
    """A customer as one connected account sees them (a PSID or IGSID is scoped to one page)."""

    # The start of ``external_id`` for a chat plugin visitor Meta names by ``user_ref`` only.
    USER_REF_PREFIX = "user_ref:"

    class ProfileState(models.TextChoices):
        PENDING = "pending", "Pending"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Failed"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="contacts")
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="contacts")
    platform = models.CharField(max_length=10, choices=Platform.choices)
    # The PSID / IGSID; for a chat plugin visitor Meta names only by user_ref, that reference's key
    # (``inbox.services.contacts.user_ref_key``) until an event links it to a PSID.
    external_id = models.CharField(max_length=64)
    # The chat plugin's / checkbox plugin's reference for this person, once Meta has sent one.
    user_ref = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    picture_url = models.URLField(max_length=2000, blank=True)
    picture = models.FileField(upload_to="contacts/%Y/%m/", blank=True)
    profile_state = models.CharField(max_length=10, choices=ProfileState.choices, default=ProfileState.PENDING)
    profile_fetched_at = models.DateTimeField(null=True, blank=True)
    # What staff know about the customer (the contact panel): free notes, and short "key: value" details
    # (validated by inbox.services.contact_profile: at most 30 keys, keys and values short strings).
    notes = models.TextField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # The person this identity belongs to, once staff merged it with another one (their Messenger and
    # Instagram contacts); empty for a customer known by one identity only.
    person = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("account", "external_id"), name="uniq_contact_account_external_id"),
            # One person per reference: the visitor's contact, or the PSID contact it was merged into.
            models.UniqueConstraint(
                fields=("account", "user_ref"), condition=~Q(user_ref=""), name="uniq_contact_account_user_ref"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return contact_display_name(name=self.name, username=self.username, external_id=self.external_id)


class Person(models.Model):
    """One customer known through several contacts of one business (e.g. their Messenger and Instagram
    identities), joined by staff; `inbox.services.contact_profile` never lets it span businesses."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="people")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Person {self.pk}"


def conversation_participants(*, contact: Contact, account) -> tuple[list[str], list[str]]:
    """The seed's ``participant_ids`` / ``participant_names`` of a conversation: the customer, then the
    page's side (the Page or Instagram account)."""
    return (
        [contact.external_id, account.account_id],
        [contact.display_name, account.account_name or account.account_id],
    )


# Meta's own Page Inbox (Meta Business Suite), as the Handover Protocol names it.
PAGE_INBOX_APP_ID = "263902037430900"
# A thread's owner when we know only that it is not us (a standby message, a take by an app Meta
# did not name).
UNKNOWN_APP = "other"


def handover_app_name(app_id: str | None) -> str:
    """An app of the Handover Protocol, for people (Meta sends ids only)."""
    if app_id == PAGE_INBOX_APP_ID:
        return "Page Inbox"
    return f"app {app_id}" if app_id and app_id != UNKNOWN_APP else "another app"


class Conversation(models.Model):
    """The thread between one connected account and one customer."""

    class Kind(models.TextChoices):
        MESSAGES = "messages", "Messages"
        COMMENTS = "comments", "Comments"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"  # waiting for the customer
        SNOOZED = "snoozed", "Snoozed"  # until `snoozed_until`, then open again
        RESOLVED = "resolved", "Resolved"

    class Priority(models.TextChoices):
        NONE = "none", "None"
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="conversations")
    # The id URLs, the REST API and outbound webhooks use: integer keys never leave the app.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    platform = models.CharField(max_length=10, choices=Platform.choices)
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    participant_ids = models.JSONField(default=list, blank=True)
    participant_names = models.JSONField(default=list, blank=True)
    last_message_at = models.DateTimeField(default=timezone.now)
    # Denormalised so the list renders from one row per conversation.
    last_message_preview = models.CharField(max_length=255, blank=True)
    last_message_direction = models.CharField(max_length=8, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # Set only while SNOOZED: when it wakes up as OPEN (a new customer message wakes it at once).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NONE)
    last_inbound_at = models.DateTimeField(null=True, blank=True, help_text="Drives the 24-hour reply window.")
    # A click-to-Messenger ad (docs/messenger-platform.md §6.7): when the customer last came from one,
    # and their first message after that click, from which the standard window lasts 7 days.
    ad_referral_at = models.DateTimeField(null=True, blank=True)
    ad_window_opened_at = models.DateTimeField(null=True, blank=True)
    # Highest receipts seen from the customer; kept so a late or repeated receipt never moves back.
    delivered_watermark = models.DateTimeField(null=True, blank=True)
    read_watermark = models.DateTimeField(null=True, blank=True)
    # Handover Protocol: the app that owns the thread; "" is ours (the Primary Receiver). Kept from
    # the handover webhooks and Meta's thread_owner answer, at ``thread_owner_at`` (Meta's time).
    thread_owner_app_id = models.CharField(max_length=32, blank=True)
    thread_owner_at = models.DateTimeField(null=True, blank=True)
    # Who answers it (a member of the business) and the team it belongs to; either may be empty.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    # "comments": one commenter's comments on one post (inbox/ingest/comments.py says why per commenter),
    # with the post they are on; its contact stands for the commenter on that post only.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MESSAGES)
    post_id = models.CharField(max_length=128, blank=True)
    post_permalink = models.URLField(max_length=1000, blank=True)
    post_excerpt = models.CharField(max_length=255, blank=True)
    post_picture = models.URLField(max_length=2000, blank=True)
    # The commenter's id as Meta names them in comments (not a PSID: the private reply's echo tells that).
    commenter_id = models.CharField(max_length=64, blank=True)
    # The Messenger conversation a private reply to one of these comments continues in.
    linked_conversation = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="comment_threads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "conversations"
        constraints = [
            models.UniqueConstraint(fields=("account", "contact"), name="uniq_conversation_account_contact"),
        ]
        indexes = [
            # Keyset pagination walks these in (last_message_at, id) order.
            models.Index(fields=("business", "status", "-last_message_at", "-id"), name="conv_business_status_recent"),
            models.Index(
                fields=("business", "account", "status", "-last_message_at", "-id"), name="conv_business_account_recent"
            ),
            # The Mine / Unassigned / team views walk these (and count from them).
            models.Index(
                fields=("business", "assignee", "status", "-last_message_at", "-id"), name="conv_business_assignee_recent"
            ),
            models.Index(
                fields=("business", "team", "status", "-last_message_at", "-id"), name="conv_business_team_recent"
            ),
            models.Index(
                fields=("business", "-last_message_at", "-id"), condition=Q(unread_count__gt=0),
                name="conv_business_unread_recent",
            ),
            # Unread totals per page in the navigation read only unread rows.
            models.Index(
                fields=("business", "account"), condition=Q(unread_count__gt=0), name="conv_business_account_unread"
            ),
            # The wake-up task reads only snoozed rows, soonest first.
            models.Index(fields=("snoozed_until",), condition=Q(status="snoozed"), name="conv_snoozed_until"),
            # The "Expiring soon" view reads open rows by when the customer last wrote (and the few
            # rows with an ad's longer window by when it opened).
            models.Index(fields=("business", "last_inbound_at"), condition=Q(status="open"), name="conv_open_last_inbound"),
            models.Index(
                fields=("business", "ad_window_opened_at"), condition=Q(ad_window_opened_at__isnull=False),
                name="conv_ad_window_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.contact_id}"

    def get_absolute_url(self) -> str:
        return reverse("inbox:conversation_detail", args=[self.public_id])

    @property
    def thread_owner_name(self) -> str:
        """Who owns the thread, for people: "" while it is ours."""
        return handover_app_name(self.thread_owner_app_id) if self.thread_owner_app_id else ""

    @property
    def chip_labels(self) -> list[Label]:
        """Its labels by name, as rows and headers show them: loaded for a whole page of conversations in
        one query by `inbox.selectors.labels_prefetch`; on its own, one query."""
        loaded: list[Label] | None = self.__dict__.get("_chip_labels")
        if loaded is None:
            loaded = list(self.labels.order_by(Lower("name"), "id"))
            self.__dict__["_chip_labels"] = loaded
        return loaded


class ChatMessage(models.Model):
    """One message in a conversation, inbound from the customer or outbound from the page."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        # Private notes between staff: nothing with this direction is ever sent.
        INTERNAL = "internal", "Internal"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        POSTBACK = "postback", "Button tapped"
        REFERRAL = "referral", "Referral"
        # A line in the thread from Meta, not from either party: a handover of the thread between
        # apps, an opt-in. Never counted as unread, never moves the conversation's "latest" fields.
        NOTICE = "notice", "Notice"
        # A private note staff wrote for each other: stored with direction "internal", never sent to
        # Meta, never unread, never a reply, never the customer side's "latest" message.
        NOTE = "note", "Private note"
        # A comment on a post or an Instagram media, the customer's or the page's own reply;
        # ``message_id`` is Meta's comment id (inbox/ingest/comments.py).
        COMMENT = "comment", "Comment"

    class Source(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        INBOX = "inbox", "Sent from Social Inbox"
        META = "meta", "Sent from Meta's apps"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="messages")
    # The id the REST API and outbound webhooks use: integer keys never leave the app.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    platform = models.CharField(max_length=10, choices=Platform.choices)
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # Meta's `mid`; empty until an outbound reply has been accepted by the Send API.
    message_id = models.CharField(max_length=255, null=True, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INBOUND)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MESSAGE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CUSTOMER)
    sender_id = models.CharField(max_length=64, blank=True)
    sender_name = models.CharField(max_length=255, blank=True)
    content = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    # Meta's time for the event (for a reply not yet sent: when staff pressed send).
    timestamp = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    is_read = models.BooleanField(default=False)
    is_replied = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    reply_to_mid = models.CharField(max_length=255, blank=True)
    reaction = models.CharField(max_length=32, blank=True, help_text="The customer's reaction to this message.")
    # The page's reaction to a customer's message, set by staff and sent to Meta as a `react` sender action.
    page_reaction = models.CharField(max_length=32, blank=True, help_text="The page's reaction to this message.")
    is_deleted = models.BooleanField(default=False)
    edit_count = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    # Outbound replies: who sent it, the token we pass as Send API `metadata` to match the echo.
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    messaging_type = models.CharField(max_length=16, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # Quick reply / postback payloads, referral data, story replies, edit history.
    extra = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    # How it travelled (channel health, support): Meta's `timestamp` above, when the webhook carrying it
    # was stored (received_at; empty for replies sent from here) and when it was applied (created_at).
    # Pushing it to screens and a browser showing it are sampled per page instead (inbox.latency):
    # stamping them on the row would write every message twice.
    received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "chat_messages"
        constraints = [
            models.UniqueConstraint(fields=("account", "message_id"), name="uniq_message_per_account_mid"),
        ]
        indexes = [
            models.Index(fields=("conversation", "timestamp", "id"), name="msg_conversation_time"),
            models.Index(fields=("conversation", "direction", "status"), name="msg_conversation_dir_status"),
            models.Index(fields=("business", "timestamp"), name="msg_business_time"),
            # Channel health lists a page's refused replies: a few rows, so a small index.
            models.Index(
                fields=("account", "-timestamp"), condition=Q(status="failed", direction="outbound"),
                name="msg_failed_by_account",
            ),
            # The contact panel's "came from" (an ad or a link): the conversation's latest referral, on
            # its own or carried by a message, without walking the whole thread.
            models.Index(
                fields=("conversation", "-timestamp", "-id"),
                condition=Q(kind="referral") | Q(extra__has_key="referral"),
                name="msg_conversation_referral",
            ),
            # "Needs reply": a conversation's customer messages no reply has answered yet.
            models.Index(
                fields=("conversation",), condition=Q(direction="inbound", is_replied=False) & ~Q(kind="notice"),
                name="msg_conversation_unreplied",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} message {self.message_id or self.pk}"


class ConversationSearchText(models.Model):
    """Every text a conversation's messages ever held, upper-cased, in rows of about 1,200 bytes.

    Written by PostgreSQL itself (triggers on ``chat_messages``, migration inbox 0026), never by Python,
    so no way of storing a message can forget it; SQLite installs leave it empty. A search walking the
    list newest first checks one short row per conversation here instead of each of its messages
    (``inbox.selectors``). It only ever grows: a deleted or edited message's old text stays, so a
    match here is confirmed against the messages themselves before a conversation is listed.
    """

    pk = models.CompositePrimaryKey("conversation", "chunk")
    # The database deletes these rows with their conversation (ON DELETE CASCADE, migration 0026).
    conversation = models.ForeignKey(
        Conversation, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
    )
    chunk = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        db_table = "conversation_search_text"

    def __str__(self) -> str:
        return f"search text {self.conversation_id}/{self.chunk}"


class Attachment(models.Model):
    """A file, sticker, location or share on a message; Meta's URL expires, so a task stores a copy."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending download"
        STORED = "stored", "Stored"
        FAILED = "failed", "Download failed"
        SKIPPED = "skipped", "Not stored"
        # Instagram media by default (Meta's rules): shown from Meta's link while it lives, never copied.
        LINK = "link", "Link only"
        # Deleted from storage when the business's media retention ran out (the row and its type stay).
        EXPIRED = "expired", "Expired (retention)"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField(default=0)
    type = models.CharField(max_length=32)
    url = models.TextField(blank=True, help_text="Meta's URL (expires).")
    # When Meta's link stops working, where that is known (the CDN's signed expiry, a story's 24 hours).
    link_expires_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="attachments/%Y/%m/", blank=True, max_length=500)
    name = models.CharField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=127, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("message", "position")
        constraints = [
            models.UniqueConstraint(fields=("message", "position"), name="uniq_attachment_message_position"),
        ]
        indexes = [models.Index(fields=("state", "created_at"), name="attachment_state_time")]

    def __str__(self) -> str:
        return f"{self.type} attachment {self.pk}"


class PendingMessageUpdate(models.Model):
    """A reaction, edit or delete that names a message we have not stored yet; applied when it arrives."""

    class Kind(models.TextChoices):
        REACTION = "reaction", "Reaction"
        EDIT = "edit", "Edit"
        DELETE = "delete", "Delete"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="+")
    target_mid = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    event_timestamp = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=("account", "target_mid"), name="pending_update_target")]

    def __str__(self) -> str:
        return f"Pending {self.kind} for {self.target_mid}"


class NoteMention(models.Model):
    """A member named with @ in a private note; the *Mentions* view reads these, newest first."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=("note", "user"), name="uniq_note_mention_user")]
        indexes = [models.Index(fields=("business", "user", "-created_at"), name="note_mention_user_recent")]

    def __str__(self) -> str:
        return f"Mention of {self.user_id} in note {self.note_id}"


class Notification(models.Model):
    """Something a member should know about: a conversation assigned to them, a mention in a note."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Assigned to you"
        MENTIONED = "mentioned", "Mentioned you"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("business", "recipient", "-created_at"), name="notification_recipient_recent"),
            # The bell's unread count reads only unread rows.
            models.Index(
                fields=("business", "recipient"), condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.text}"


class Label(models.Model):
    """A business's tag for conversations (Refund, VIP…): a coloured chip on rows and headers, and a list filter.

    Colours come from a fixed palette whose chips keep a 4.5:1 contrast (static/css/labels.css);
    names are unique per business whatever their case.
    """

    class Colour(models.TextChoices):
        GREY = "grey", "Grey"
        RED = "red", "Red"
        ORANGE = "orange", "Orange"
        YELLOW = "yellow", "Yellow"
        GREEN = "green", "Green"
        TEAL = "teal", "Teal"
        BLUE = "blue", "Blue"
        PURPLE = "purple", "Purple"
        PINK = "pink", "Pink"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    colour = models.CharField(max_length=10, choices=Colour.choices, default=Colour.GREY)
    conversations = models.ManyToManyField(
        Conversation, through="ConversationLabel", related_name="labels", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = (Lower("name"), "id")
        constraints = [
            models.UniqueConstraint("business", Lower("name"), name="uniq_label_business_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class ConversationLabel(models.Model):
    """A label on a conversation. Carries the business, so it is loaded through `for_business()` like any row."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="label_links")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="links")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        constraints = [
            # Also the index a list walk newest first (conv_business_status_recent) probes for each row.
            models.UniqueConstraint(fields=("conversation", "label"), name="uniq_conversation_label"),
        ]
        indexes = [
            # A rare label's conversations, collected from here and then sorted newest first.
            models.Index(fields=("label", "conversation"), name="conv_label_by_label"),
        ]

    def __str__(self) -> str:
        return f"Label {self.label_id} on conversation {self.conversation_id}"


class SavedReply(models.Model):
    """A canned answer staff insert in the composer by its code (`/refund`), with placeholders filled in.

    Placeholders: ``{{first_name}}`` (the customer's first name, or "there") and ``{{agent_name}}``
    (the staff member's name); filled by ``inbox.services.saved_replies.saved_reply_fill``.
    """

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="saved_replies")
    code = models.SlugField(max_length=40, help_text="Type / and this code in the reply box to insert the text.")
    text = models.TextField(max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("code", "id")
        verbose_name_plural = "saved replies"
        constraints = [
            models.UniqueConstraint(fields=("business", "code"), name="uniq_saved_reply_business_code"),
        ]

    def __str__(self) -> str:
        return f"/{self.code}"


# --- reports ---


class ReportCursor(models.Model):
    """How far the report rollups have read a stream of rows (its high-water mark on their ids)."""

    name = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "report_cursors"

    def __str__(self) -> str:
        return f"{self.name} at {self.last_id}"


class BusinessHours(models.Model):
    """When a business answers: reports can count first response and resolution times in these hours only."""

    business = models.OneToOneField("accounts.Business", on_delete=models.CASCADE, related_name="business_hours")
    time_zone = models.CharField(max_length=64, default="UTC")
    # Weekday ("0" is Monday) -> ["09:00", "17:30"]; a day not named is closed.
    week = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "report_business_hours"
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return f"Business hours of {self.business_id}"


class ConversationStats(models.Model):
    """One episode of a conversation, as reports count it: opened by a customer message while no episode
    was open, ended by a resolve. Kept by `inbox.reports.rollup`; reports read only these and HourlyStats.

    Team and people are plain ids (0: none) rather than foreign keys: a report keeps counting a deleted
    team's or member's past work, and the rows stay unique without NULLs in their keys.
    """

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="+")
    team_pk = models.IntegerField(default=0)
    assignee_pk = models.IntegerField(default=0)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_by_pk = models.IntegerField(default=0)
    first_response_seconds = models.IntegerField(null=True, blank=True)
    first_response_open_seconds = models.IntegerField(null=True, blank=True)  # within business hours
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_pk = models.IntegerField(default=0)
    resolution_seconds = models.IntegerField(null=True, blank=True)
    resolution_open_seconds = models.IntegerField(null=True, blank=True)
    last_inbound_at = models.DateTimeField()
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    # The customer's latest message has no reply after it yet.
    awaiting_reply = models.BooleanField(default=True)
    # When the 24-hour window closed with the customer unanswered (the first time in the episode).
    window_missed_at = models.DateTimeField(null=True, blank=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "report_conversation_stats"
        indexes = [
            # Covering (PostgreSQL): a report's reads are index-only scans.
            models.Index(
                fields=("business", "opened_at"), name="report_conv_opened",
                include=("account", "team_pk", "assignee_pk", "first_response_seconds", "first_response_open_seconds"),
            ),
            models.Index(
                fields=("business", "resolved_at"), condition=Q(resolved_at__isnull=False), name="report_conv_resolved",
                include=("account", "team_pk", "assignee_pk", "resolution_seconds", "resolution_open_seconds"),
            ),
            models.Index(fields=("business", "window_missed_at"), condition=Q(window_missed_at__isnull=False),
                         name="report_conv_missed"),
            models.Index(fields=("conversation", "-id"), name="report_conv_latest"),
            # The sweep that finds windows that closed unanswered reads only these rows.
            models.Index(
                fields=("last_inbound_at",),
                condition=Q(awaiting_reply=True, window_missed_at__isnull=True, resolved_at__isnull=True),
                name="report_conv_awaiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Episode of conversation {self.conversation_id} from {self.opened_at:%Y-%m-%d %H:%M}"


class HourlyStats(models.Model):
    """Messages per hour (UTC) of a business, per page, team and member. ``messages_in``/``messages_out``
    count under the conversation's assignee (``agent_pk``); ``replies`` under the member who sent them."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="+")
    team_pk = models.IntegerField(default=0)
    agent_pk = models.IntegerField(default=0)
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "report_hourly_stats"
        constraints = [
            models.UniqueConstraint(
                fields=("business", "hour", "account", "team_pk", "agent_pk"), name="uniq_report_hour_key"
            ),
        ]
        indexes = [
            # Covering (PostgreSQL): a report's reads are index-only scans.
            models.Index(
                fields=("business", "hour"), name="report_hour_covering",
                include=("account", "team_pk", "agent_pk", "messages_in", "messages_out", "replies"),
            ),
        ]

    def __str__(self) -> str:
        return f"Hour {self.hour:%Y-%m-%d %H}:00 of {self.business_id}"


class DataDeletionRequest(models.Model):
    """A person's request, through Meta, that their data be deleted (docs/compliance.md).

    Meta names the person by their app-scoped id only. It is kept in clear while the deletion runs (the
    task needs it to find their rows) and emptied once it is done; ``user_hash`` (a keyed hash of the id)
    stays so a second request for the same person finds this one. Belongs to no business: the person may
    touch several, and the status page is public behind its unguessable confirmation code.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    confirmation_code = models.CharField(max_length=40, unique=True)
    user_hash = models.CharField(max_length=64, unique=True)
    user_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    # How many rows of each kind were deleted or emptied, summed over every run; never what they held.
    counts = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Data deletion {self.confirmation_code[:6]}… ({self.status})"


class HistoryImport(models.Model):
    """One walk through a page's earlier conversations on Meta (the Conversations API), page by page.

    ``kind``: the import of the last days' history (on connect or on demand), or the daily
    reconciliation of the last two days (messages whose webhook never came). Progress is stored
    after each page of conversations, with Meta's cursor of the next one, so a task that died
    or failed carries on from there (``inbox.ingest.history``).
    """

    class Kind(models.TextChoices):
        IMPORT = "import", "History import"
        RECONCILE = "reconcile", "Reconciliation"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("social.SocialAccount", on_delete=models.CASCADE, related_name="history_imports")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMPORT)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # Conversations updated before this are not read (the cut-off of "the last N days").
    since = models.DateTimeField()
    # Meta's `after` cursor of the next page of conversations; empty: from the newest.
    cursor = models.TextField(blank=True)
    pages_done = models.PositiveIntegerField(default=0)
    conversations_done = models.PositiveIntegerField(default=0)
    messages_imported = models.PositiveIntegerField(default=0)
    # The oldest `updated_time` walked so far: how far back between now and `since` the walk is.
    reached = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "history_imports"
        indexes = [models.Index(fields=("account", "kind", "-created_at"), name="history_account_kind_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of account {self.account_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        """How far back the walk is between when it began and the cut-off (99 until it is done)."""
        if self.state == self.State.DONE:
            return 100
        if self.reached is None:
            return 0
        start = self.started_at or self.created_at
        window = (start - self.since).total_seconds()
        if window <= 0:
            return 99
        return max(1, min(99, int(100 * (start - self.reached).total_seconds() / window)))
