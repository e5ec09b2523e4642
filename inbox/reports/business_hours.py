"""Setting a business's opening hours (owners and admins), which report times can be counted in."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import BusinessHours

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

RECOMPUTE_TASK = "inbox.report_tasks.report_hours_recompute"


class BusinessHoursError(ValueError):
    pass


@transaction.atomic
def business_hours_set(
    *, business: Business, user: User, time_zone: str, days: Iterable[int], opens: dt.time, closes: dt.time
) -> BusinessHours:
    """The same opening hours on each of ``days`` (0 = Monday); the times already rolled up are counted again."""
    if opens >= closes:
        raise BusinessHoursError("Closing time must be after opening time.")
    chosen = sorted({int(day) for day in days if 0 <= int(day) <= 6})
    if not chosen:
        raise BusinessHoursError("Pick at least one open day.")
    week = {str(day): [opens.strftime("%H:%M"), closes.strftime("%H:%M")] for day in chosen}
    row, _ = BusinessHours.objects.update_or_create(business=business, defaults={"time_zone": time_zone, "week": week})
    audit_record(
        action="reports.business_hours_set",
        business=business,
        actor=user,
        target=row,
        metadata={"time_zone": time_zone, "week": week},
    )
    enqueue_on_commit(RECOMPUTE_TASK, business.pk)
    return row


@transaction.atomic
def business_hours_clear(*, business: Business, user: User) -> None:
    """No opening hours: reports count every hour."""
    deleted, _ = BusinessHours.objects.for_business(business).delete()
    if deleted:
        audit_record(action="reports.business_hours_cleared", business=business, actor=user)
        enqueue_on_commit(RECOMPUTE_TASK, business.pk)
