"""The activity log of a business: what its staff (and the system) did, and how its pages' Graph calls went.

Both are read from the append-only audit trail (`AuditEvent`). Staff and system actions are one row
each and are listed as they are, newest first, filterable by kind, member and period. Graph calls are
one row per call ("graph.call"), which would drown everything else: the log sums them per page over
the period and lists only the failed ones.

Retention is per business (`Business.activity_retention_days` for actions, `graph_call_retention_days`
for the per-call rows, which are many and of short interest); `audit_retention_enforce` deletes what
is older, every day, from Celery beat. It is the only way audit rows are ever deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, Business
from accounts.services import audit_record

if TYPE_CHECKING:
    from accounts.models import User

GRAPH_CALL = "graph.call"

# The link from a row to the object it names, given by the app that owns that kind of object: the
# inbox registers conversations (accounts may not import the inbox). A linker gets the business and the
# rows' target ids and answers {target id: URL} for the ones that still exist.
TargetLinker = Callable[[Business, list[str]], dict[str, str]]
_target_linkers: dict[str, TargetLinker] = {}


def target_linker_register(target_type: str, linker: TargetLinker) -> None:
    _target_linkers[target_type] = linker

# The kinds of action a manager filters the log by: the prefixes of the actions each one covers.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conversations": ("Conversations", ("conversation.", "conversations.", "contact.")),
    "messages": ("Replies and notes", ("message.",)),
    "team": ("Team and access", ("membership.", "invitation.", "team.", "user.")),
    "pages": ("Pages", ("social.", "messenger_profile.", "history_import.")),
    "integrations": ("API and webhooks", ("api.", "api_key.", "outbound.")),
    "privacy": ("Privacy requests", ("compliance.",)),
    "library": ("Labels and saved replies", ("label.", "saved_reply.")),
    "settings": ("Settings", ("business.", "activity.")),
}

# How a row reads in the log ("Sara Verdi assigned a conversation"); an action missing here is shown
# by its name, so a new action is never hidden, only less well worded.
ACTION_WORDS: dict[str, str] = {
    "business.created": "created the business",
    "business.assignment_settings_changed": "changed the assignment settings",
    "business.instagram_media_store_changed": "changed what is stored of Instagram media",
    "business.retention_changed": "changed how long the activity log is kept",
    "activity.exported": "exported the activity log",
    "contact.merged": "merged two contacts into one person",
    "contact.split": "took a contact out of a person",
    "contact.profile_updated": "edited a contact's notes or details",
    "conversation.assigned": "assigned a conversation",
    "conversation.unassigned": "unassigned a conversation",
    "conversation.labels_added": "labelled a conversation",
    "conversation.labels_removed": "removed a label from a conversation",
    "conversation.priority_changed": "changed a conversation's priority",
    "conversation.read": "marked a conversation read",
    "conversation.unread": "marked a conversation unread",
    "conversation.pending": "set a conversation pending",
    "conversation.snoozed": "snoozed a conversation",
    "conversation.unsnoozed": "unsnoozed a conversation",
    "conversation.resolved": "resolved a conversation",
    "conversation.reopened": "reopened a conversation",
    "message.reply_queued": "sent a reply",
    "message.reply_sent": "reply delivered to Meta",
    "message.reply_failed": "reply failed",
    "message.reply_retried": "retried a reply",
    "message.note_added": "added a private note",
    "membership.added": "joined the business",
    "membership.removed": "removed a member",
    "membership.role_changed": "changed a member's role",
    "invitation.sent": "invited someone",
    "invitation.resent": "resent an invitation",
    "invitation.revoked": "revoked an invitation",
    "invitation.accepted": "accepted an invitation",
    "team.created": "created a team",
    "team.renamed": "renamed a team",
    "team.deleted": "deleted a team",
    "team.members_changed": "changed a team's members",
    "user.display_name_changed": "changed their display name",
    "label.created": "created a label",
    "label.updated": "changed a label",
    "label.deleted": "deleted a label",
    "saved_reply.created": "created a saved reply",
    "saved_reply.updated": "changed a saved reply",
    "saved_reply.deleted": "deleted a saved reply",
    "social.account.connected": "connected a page",
    "social.account.reconnected": "reconnected a page",
    "social.account.disconnected": "disconnected a page",
    "social.account.needs_reconnect": "a page needs reconnecting",
    "social.account.auto_assign": "changed a page's auto-assignment",
    "social.account.human_agent": "changed a page's human agent replies",
    "social.subscription.restored": "restored a page's webhook subscription",
    "social.token.refreshed": "refreshed a page's token",
    "social.token.refresh_failed": "could not refresh a page's token",
    "business.data_retention_changed": "changed how long webhook bodies and media are kept",
    "conversation.thread_take": "took control of a thread from another app",
    "conversation.thread_take_failed": "could not take control of a thread",
    "conversation.thread_pass": "passed a thread to another app",
    "conversation.thread_pass_failed": "could not pass a thread to another app",
    "comment.reply_queued": "replied to a comment",
    "comment.reply_sent": "comment reply published",
    "comment.reply_failed": "comment reply failed",
    "comment.private_reply_queued": "sent a private reply to a comment",
    "comment.private_reply_sent": "private reply delivered to Meta",
    "comment.private_reply_failed": "private reply failed",
    "comment.hidden": "hid or showed a comment",
    "comment.deleted": "deleted a comment",
    "messenger_profile.pushed": "changed a page's Messenger profile",
    "messenger_profile.push_failed": "could not change a page's Messenger profile",
    "history_import.started": "imported a page's earlier conversations",
    "history_import.resumed": "resumed a page's history import",
    "api_key.created": "created an API key",
    "api_key.revoked": "revoked an API key",
    "api.request": "used the API",
    "outbound.endpoint.created": "added a webhook endpoint",
    "outbound.endpoint.updated": "changed a webhook endpoint",
    "outbound.endpoint.deleted": "deleted a webhook endpoint",
    "outbound.endpoint.disabled": "disabled a webhook endpoint",
    "outbound.endpoint.enabled": "enabled a webhook endpoint",
    "outbound.endpoint.secret_rotated": "rotated a webhook endpoint's secret",
    "outbound.delivery.replayed": "replayed a webhook delivery",
    "compliance.data_deleted": "deleted a person's data at Meta's request",
    "compliance.deauthorized": "a person removed the app from Facebook",
}

PAGE_SIZE = 100
# An export holds at most this many rows (a year of a busy team's actions); a wider one asks for a
# shorter period instead of holding a worker for minutes.
EXPORT_LIMIT = 100_000
DELETE_BATCH = 5_000


@dataclass(frozen=True)
class ActivityFilters:
    kind: str = ""  # "" = every kind, else a key of KINDS
    actor_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def as_query(self) -> dict[str, str]:
        query = {}
        if self.kind:
            query["kind"] = self.kind
        if self.actor_id:
            query["member"] = str(self.actor_id)
        if self.since:
            query["since"] = timezone.localtime(self.since).date().isoformat()
        if self.until:
            query["until"] = (timezone.localtime(self.until).date() - dt.timedelta(days=1)).isoformat()
        return query


@dataclass(frozen=True)
class ActivityRow:
    event: AuditEvent
    words: str
    details: list[tuple[str, str]]
    link: str  # the page of the object the action was about, "" for none


@dataclass
class ActivityPage:
    rows: list[ActivityRow] = field(default_factory=list)
    next_before: int | None = None  # the id the next (older) page starts below


@dataclass(frozen=True)
class GraphCallSummary:
    account_id: str  # the page's Meta id, as the calls recorded it
    page_pk: str
    calls: int
    failed: int
    last_at: dt.datetime


def actions_queryset(*, business: Business, filters: ActivityFilters) -> QuerySet[AuditEvent]:
    """The business's actions (every audit row but Graph calls) under these filters, newest first."""
    qs = AuditEvent.objects.for_business(business).exclude(action=GRAPH_CALL).select_related("actor")
    if filters.kind in KINDS:
        prefixes = KINDS[filters.kind][1]
        condition = Q()
        for prefix in prefixes:
            condition |= Q(action__startswith=prefix)
        qs = qs.filter(condition)
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.since:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__lt=filters.until)
    return qs.order_by("-created_at", "-id")


def activity_page(*, business: Business, filters: ActivityFilters, before: int | None = None) -> ActivityPage:
    """One page of the log (PAGE_SIZE rows), older than the row `before` when given (two queries)."""
    qs = actions_queryset(business=business, filters=filters)
    if before:
        anchor = AuditEvent.objects.for_business(business).filter(pk=before).values("created_at").first()
        if anchor is not None:
            qs = qs.filter(Q(created_at__lt=anchor["created_at"]) | Q(created_at=anchor["created_at"], id__lt=before))
    events = list(qs[: PAGE_SIZE + 1])
    links = _target_links(business, events[:PAGE_SIZE])
    page = ActivityPage(rows=[activity_row(event, links=links) for event in events[:PAGE_SIZE]])
    if len(events) > PAGE_SIZE:
        page.next_before = events[PAGE_SIZE - 1].pk
    return page


def _target_links(business: Business, events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """{(target type, target id): URL} for the events' targets, one query per kind of target linked."""
    ids: dict[str, list[str]] = {}
    for event in events:
        if event.target_type in _target_linkers and event.target_id:
            ids.setdefault(event.target_type, []).append(event.target_id)
    links: dict[tuple[str, str], str] = {}
    for target_type, target_ids in ids.items():
        for target_id, url in _target_linkers[target_type](business, target_ids).items():
            links[(target_type, target_id)] = url
    return links


def activity_row(event: AuditEvent, *, links: dict[tuple[str, str], str] | None = None) -> ActivityRow:
    details = [(str(key).replace("_", " "), _short(value)) for key, value in sorted((event.metadata or {}).items())]
    return ActivityRow(
        event=event,
        words=ACTION_WORDS.get(event.action, event.action.replace("_", " ").replace(".", ": ")),
        details=details,
        link=(links or {}).get((event.target_type, event.target_id), ""),
    )


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        text = ", ".join(str(item) for item in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {v}" for k, v in value.items())
    else:
        text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:119] + "…"


def graph_call_summary(
    *, business: Business, since: dt.datetime, until: dt.datetime | None = None
) -> list[GraphCallSummary]:
    """The business's Graph calls in the period, per page: how many, how many failed, the last one (one query)."""
    qs = AuditEvent.objects.for_business(business).filter(action=GRAPH_CALL, created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    rows = (
        qs.values("target_id", "metadata__account_id")
        .annotate(
            calls=Count("id"), failed=Count("id", filter=Q(metadata__has_key="error_code")), last_at=Max("created_at")
        )
        .order_by("-calls")
    )
    return [
        GraphCallSummary(
            account_id=str(row["metadata__account_id"] or "—"),
            page_pk=row["target_id"],
            calls=row["calls"],
            failed=row["failed"],
            last_at=row["last_at"],
        )
        for row in rows
    ]


def graph_call_failures(
    *, business: Business, since: dt.datetime, until: dt.datetime | None = None, limit: int = 20
) -> list[AuditEvent]:
    """The business's failed Graph calls in the period, newest first: what was asked and what Meta answered."""
    qs = AuditEvent.objects.for_business(business).filter(
        action=GRAPH_CALL, created_at__gte=since, metadata__has_key="error_code"
    )
    if until:
        qs = qs.filter(created_at__lt=until)
    return list(qs.order_by("-created_at", "-id")[:limit])


# --- export ---------------------------------------------------------------------------------------------------

EXPORT_HEADER = ("time", "member", "action", "what", "target", "details")


class _Echo:
    """A file-like object whose write returns what it was given (csv.writer into a streamed response)."""

    def write(self, value: str) -> str:
        return value


def activity_csv(*, business: Business, filters: ActivityFilters) -> Iterator[str]:
    """The filtered log as CSV lines, newest first, at most EXPORT_LIMIT rows, read in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_HEADER)
    qs = actions_queryset(business=business, filters=filters)[:EXPORT_LIMIT]
    for event in qs.iterator(chunk_size=2000):
        row = activity_row(event)
        who = event.actor.display_name if event.actor else "system"
        target = f"{event.target_type}:{event.target_id}" if event.target_type else ""
        details = "; ".join(f"{key}={value}" for key, value in row.details)
        yield writer.writerow(
            [_csv_safe(v) for v in (event.created_at.isoformat(), who, event.action, row.words, target, details)]
        )


def _csv_safe(value: str) -> str:
    """Text a spreadsheet will not run as a formula (a member's name or a label may start with =, +, - or @)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- retention --------------------------------------------------------------------------------------------------


def business_retention_set(*, business: Business, actor: User, activity_days: int, graph_call_days: int) -> None:
    old = (business.activity_retention_days, business.graph_call_retention_days)
    if old == (activity_days, graph_call_days):
        return
    business.activity_retention_days = activity_days
    business.graph_call_retention_days = graph_call_days
    business.save(update_fields=["activity_retention_days", "graph_call_retention_days"])
    audit_record(
        action="business.retention_changed",
        business=business,
        actor=actor,
        target=business,
        metadata={"actions_days": activity_days, "graph_calls_days": graph_call_days},
    )


def audit_retention_enforce(*, now: dt.datetime | None = None) -> int:
    """Delete every business's audit rows older than it keeps them; returns how many (in batches)."""
    now = now or timezone.now()
    deleted = 0
    for business_id, action_days, call_days in Business.objects.values_list(
        "pk", "activity_retention_days", "graph_call_retention_days"
    ):
        base = AuditEvent.objects.filter(business_id=business_id)
        deleted += _delete_in_batches(base.filter(action=GRAPH_CALL, created_at__lt=now - dt.timedelta(days=call_days)))
        deleted += _delete_in_batches(
            base.exclude(action=GRAPH_CALL).filter(created_at__lt=now - dt.timedelta(days=action_days))
        )
    return deleted


def _delete_in_batches(qs: QuerySet[AuditEvent]) -> int:
    deleted = 0
    while True:
        ids = list(qs.values_list("pk", flat=True)[:DELETE_BATCH])
        if not ids:
            return deleted
        deleted += AuditEvent.objects.filter(pk__in=ids).expire()
