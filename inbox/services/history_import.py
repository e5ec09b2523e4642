"""Importing a page's earlier conversations, and the daily reconciliation: the rows that track them.

A walk (``HistoryImport``) is queued here, on connect, from the channel health screen, or by the
daily beat; each page of Meta's conversations is then fetched and stored by one task
(``inbox.tasks.history_import_page`` → ``inbox.ingest.history``), which records its progress here
and queues the next page. Only one walk of a kind runs per page at a time; a failed import is
resumed from its stored cursor rather than begun again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import Conversation, HistoryImport
from inbox.realtime import publish_on_commit
from social.models import SocialAccount

if TYPE_CHECKING:
    from datetime import datetime

    from accounts.models import User

PAGE_TASK = "inbox.tasks.history_import_page"
RECONCILE_DAYS = 2
ERROR_LENGTH = 1000
# A running walk that has not moved for this long lost its task (a worker died between pages).
STALE_AFTER = timedelta(minutes=15)
# The rows pushed to open inbox pages when a walk ends; more than the push carries makes them reload.
PUSHED_ROWS = 60

State = HistoryImport.State
Kind = HistoryImport.Kind


def history_days(account: SocialAccount) -> int:
    """How many days back an import reads: the page's own setting, else the installation's (30)."""
    days = (account.settings or {}).get("history_days") or settings.INBOX_HISTORY_DAYS
    try:
        return max(1, int(days))
    except (TypeError, ValueError):
        return settings.INBOX_HISTORY_DAYS


def history_import_start(
    *, account: SocialAccount, actor: User | None = None, kind: str = Kind.IMPORT
) -> HistoryImport:
    """Queue a walk of this page's conversations; the one already queued or running is returned
    instead, and a failed import is resumed from where it stopped."""
    with transaction.atomic():
        SocialAccount.objects.select_for_update().filter(pk=account.pk).first()  # one start at a time per page
        latest = HistoryImport.objects.filter(account=account, kind=kind).order_by("-created_at", "-pk").first()
        if latest is not None and latest.is_active:
            return latest
        if latest is not None and latest.state == State.FAILED and kind == Kind.IMPORT:
            history = latest
            history.state, history.error, history.finished_at = State.QUEUED, "", None
            history.save(update_fields=["state", "error", "finished_at", "updated_at"])
            action = "history_import.resumed"
        else:
            days = RECONCILE_DAYS if kind == Kind.RECONCILE else history_days(account)
            history = HistoryImport.objects.create(
                business_id=account.business_id, account=account, kind=kind,
                since=timezone.now() - timedelta(days=days),
                started_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            action = "history_import.started"
        if actor is not None and getattr(actor, "is_authenticated", False):
            audit_record(action=action, business=account.business, actor=actor, target=account,
                         metadata={"import": history.pk, "kind": kind, "since": history.since.isoformat()})
        enqueue_on_commit(PAGE_TASK, history.pk)
    return history


def history_import_running(history: HistoryImport) -> None:
    if history.state == State.QUEUED or history.started_at is None:
        history.state = State.RUNNING
        history.started_at = history.started_at or timezone.now()
        history.save(update_fields=["state", "started_at", "updated_at"])


def history_import_advance(
    history: HistoryImport, *, cursor: str, more: bool, conversations: int, messages: int, reached: datetime | None
) -> None:
    """Record one stored page of conversations (in the transaction that stored it) and queue the
    next page, or end the walk: then open inbox pages get one push of the page's newest rows."""
    fields = {
        "pages_done": F("pages_done") + 1,
        "conversations_done": F("conversations_done") + conversations,
        "messages_imported": F("messages_imported") + messages,
        "cursor": cursor if more else history.cursor,
        "updated_at": timezone.now(),
    }
    if reached is not None and (history.reached is None or reached < history.reached):
        fields["reached"] = reached
    if not more:
        fields.update(state=State.DONE, finished_at=timezone.now(), error="")
    HistoryImport.objects.filter(pk=history.pk).update(**fields)
    if more:
        enqueue_on_commit(PAGE_TASK, history.pk)
    else:
        _publish_rows(history)


def history_import_fail(*, import_id: int, error: str) -> None:
    """The walk stopped on a failure it will not retry; its cursor stays for a resume."""
    HistoryImport.objects.filter(pk=import_id, state__in=(State.QUEUED, State.RUNNING)).update(
        state=State.FAILED, error=error[:ERROR_LENGTH], finished_at=timezone.now(), updated_at=timezone.now()
    )


def history_import_latest(*, account: SocialAccount, kind: str = Kind.IMPORT) -> HistoryImport | None:
    return (
        HistoryImport.objects.for_business(account.business)
        .filter(account=account, kind=kind)
        .order_by("-created_at", "-pk")
        .first()
    )


def history_reconcile_all() -> int:
    """Daily: a reconciliation of the last two days for every active page, and a new task for any
    walk whose task was lost; returns how many walks were queued."""
    queued = 0
    for account in SocialAccount.objects.filter(status=SocialAccount.Status.ACTIVE).select_related("business"):
        history_import_start(account=account, kind=Kind.RECONCILE)
        queued += 1
    stale = HistoryImport.objects.filter(
        state__in=(State.QUEUED, State.RUNNING), updated_at__lt=timezone.now() - STALE_AFTER
    ).values_list("pk", flat=True)
    for pk in stale:
        enqueue_on_commit(PAGE_TASK, pk)
        queued += 1
    return queued


def _publish_rows(history: HistoryImport) -> None:
    ids = list(
        Conversation.objects.filter(account_id=history.account_id, updated_at__gte=history.created_at)
        .order_by("-last_message_at", "-pk")
        .values_list("pk", flat=True)[:PUSHED_ROWS]
    )
    if ids:
        publish_on_commit(business_id=history.business_id, conversation_ids=ids, pane_ids=())
