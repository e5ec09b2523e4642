"""The bell, the notifications page and the *Mentions* view: each member sees their own only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_required
from accounts.services import membership_touch
from inbox import selectors
from inbox.realtime import BELL_TEMPLATE
from inbox.services import notifications as notification_services

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest


@never_cache
@require_GET
@business_required
def notification_bell(request: BusinessRequest) -> HttpResponse:
    """The bell with the unread count; every page loads it, so it also records the member's last activity."""
    membership_touch(membership=request.membership)
    unread = selectors.notification_unread_count(business_id=request.business.pk, user_id=request.user.pk)
    return render(request, BELL_TEMPLATE, {"unread": unread})


@never_cache
@require_GET
@business_required
def notification_list(request: BusinessRequest) -> HttpResponse:
    """The member's latest notifications; opening the list reads them (those shown stay marked as new)."""
    notifications = selectors.notification_list(business=request.business, user=request.user)
    unread_ids = [n.pk for n in notifications if n.read_at is None]
    if unread_ids:
        notification_services.notifications_mark_read(business=request.business, user=request.user, ids=unread_ids)
    return render(
        request,
        "inbox/notifications.html",
        {
            "notifications": notifications,
            "unread_ids": set(unread_ids),
            "unread": 0,
        },
    )


@require_POST
@business_required
def notifications_read(request: BusinessRequest) -> HttpResponse:
    """Mark all of the member's notifications read (the bell's list button)."""
    notification_services.notifications_mark_read(business=request.business, user=request.user)
    return render(request, BELL_TEMPLATE, {"unread": 0})


@never_cache
@require_GET
@business_required
def mention_list(request: BusinessRequest) -> HttpResponse:
    """Conversations where the member was mentioned in a note, the most recent mention first."""
    rows = selectors.mention_rows(business=request.business, user=request.user)
    return render(request, "inbox/mentions.html", {"rows": rows})
