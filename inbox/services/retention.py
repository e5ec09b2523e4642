"""How long customers' raw data is kept, per business (docs/compliance.md): enforced by the daily
``inbox.tasks.data_retention_enforce``, in batches (bounded statements), a missed day caught up the next.

- Raw webhook bodies: a *processed* event (and Meta's test events) older than the business's
  ``webhook_body_retention_days`` is deleted; what it carried lives on in messages. Pending, failed and
  unroutable events are never touched: they wait for a replay. One POST may carry entries of several
  businesses and cannot be split, so the shortest retention among the businesses it names wins (0, "keep
  forever", never holds back another business's shorter one); an event naming no known account follows
  the default.
- Media: a stored attachment older than ``media_retention_days`` has its file deleted from storage (after
  commit) and becomes ``EXPIRED``: the row, its type and name stay, so the thread says what was there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Business, User
from accounts.services import audit_record
from inbox.models import Attachment, WebhookEvent
from inbox.services.compliance import files_delete_on_commit
from social.models import SocialAccount

BATCH = 500
DEFAULT_BODY_DAYS = Business._meta.get_field("webhook_body_retention_days").default
# A body is deleted by the rules of every business it names; these states wait for a replay instead.
EXPIRING_STATES = (WebhookEvent.State.PROCESSED, WebhookEvent.State.TEST)


def business_data_retention_set(*, business: Business, actor: User, body_days: int, media_days: int) -> bool:
    """Change how long the business keeps raw webhook bodies and media files (owners); audited."""
    old = (business.webhook_body_retention_days, business.media_retention_days)
    if old == (body_days, media_days):
        return False
    business.webhook_body_retention_days, business.media_retention_days = body_days, media_days
    business.save(update_fields=["webhook_body_retention_days", "media_retention_days"])
    audit_record(
        action="business.data_retention_changed", business=business, actor=actor, target=business,
        metadata={"webhook_body_days": body_days, "media_days": media_days,
                  "previous": {"webhook_body_days": old[0], "media_days": old[1]}},
    )
    return True


def data_retention_enforce(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {"webhook_events_deleted": webhook_events_expire(now=now), "media_files_deleted": media_expire(now=now)}


def _event_days(account_ids: list, days_by_account: dict[str, int]) -> int:
    """How many days an event naming these accounts is kept (0: forever)."""
    known = [days_by_account[str(a)] for a in account_ids or () if str(a) in days_by_account]
    if not known:
        return DEFAULT_BODY_DAYS
    limited = [days for days in known if days]
    return min(limited) if limited else 0


def webhook_events_expire(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the processed webhook events every business they name keeps no longer; returns how many."""
    now = now or timezone.now()
    days_by_account = {
        str(account_id): days
        for account_id, days in SocialAccount.objects.values_list("account_id", "business__webhook_body_retention_days")
    }
    limits = [days for days in days_by_account.values() if days] + [DEFAULT_BODY_DAYS]
    # Nothing younger than the shortest retention anywhere can expire: the scan starts below it.
    candidates = WebhookEvent.objects.filter(
        state__in=EXPIRING_STATES, received_at__lt=now - timedelta(days=min(limits))
    ).order_by("pk")
    deleted, last = 0, 0
    while True:
        rows = list(candidates.filter(pk__gt=last).values_list("pk", "received_at", "account_ids")[:batch])
        if not rows:
            return deleted
        last = rows[-1][0]
        expired = []
        for pk, received_at, account_ids in rows:
            days = _event_days(account_ids, days_by_account)
            if days and received_at < now - timedelta(days=days):
                expired.append(pk)
        if expired:
            # Conditional on the state: an event an admin just chose to replay is left alone.
            deleted += WebhookEvent.objects.filter(pk__in=expired, state__in=EXPIRING_STATES).delete()[0]


def media_expire(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete stored media files older than each business keeps them; returns how many files."""
    now = now or timezone.now()
    deleted = 0
    for business_id, days in Business.objects.exclude(media_retention_days=0).values_list(
        "pk", "media_retention_days"
    ):
        old = Attachment.objects.filter(
            business_id=business_id, state=Attachment.State.STORED, created_at__lt=now - timedelta(days=days)
        )
        while True:
            with transaction.atomic():
                rows = list(old.order_by("pk").select_for_update().values_list("pk", "file")[:batch])
                if not rows:
                    break
                # Meta's link goes too: long expired, and it would show a broken image.
                Attachment.objects.filter(pk__in=[pk for pk, _ in rows], state=Attachment.State.STORED).update(
                    state=Attachment.State.EXPIRED, file="", url="", error=""
                )
                files_delete_on_commit(name for _, name in rows)
            deleted += sum(1 for _, name in rows if name)
    return deleted
