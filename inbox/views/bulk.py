"""Bulk actions of the conversation list: the bar's form posts the selected ids (``ids=1&ids=2…``).

One URL per action (each button of the bar names its own with ``formaction``), every one open to
any member of the business. htmx gets the live fragments of the rows that changed (as every other
action does) and, in the ``HX-Trigger`` header, the sentence for the toast and the counts; without
htmx the list comes back with that sentence as a flash message. A refused action is a 400 with the
reason (the page shows it as a toast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.decorators import business_required
from accounts.models import Membership
from inbox.models import Label
from inbox.realtime import render_live
from inbox.services import assignment
from inbox.services import bulk as bulk_services

if TYPE_CHECKING:
    from collections.abc import Callable

    from accounts.requests import BusinessRequest

ASSIGNEES_TEMPLATE = "inbox/_bulk_bar.html#assignees"
# The event the page's script listens for (static/js/bulk.js).
DONE_EVENT = "inbox:bulk-done"


def _back(request: BusinessRequest) -> str:
    """Where a browser without htmx returns: the list it posted from (its filters kept), else the inbox."""
    list_url = reverse("inbox:conversation_list")
    target = request.POST.get("next", "")
    if target.startswith(list_url) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return list_url


def _refused(request: BusinessRequest, error: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    flash.error(request, error)
    return HttpResponseRedirect(_back(request))


def _assignee(request: BusinessRequest):
    """The member the bar's Assign menu names ("me", "none" or a user id); UNCHANGED when it names nobody."""
    value = request.POST.get("assignee", "").strip()
    if value == "me":
        return request.user
    if value == "none":
        return None
    if value.isdigit():
        membership = (
            Membership.objects.for_business(request.business).select_related("user").filter(user_id=int(value)).first()
        )
        if membership is not None:
            return membership.user
    return assignment.UNCHANGED


def _label(request: BusinessRequest) -> Label | None:
    value = request.POST.get("label", "").strip()
    if not value.isdigit():
        return None
    return Label.objects.for_business(request.business).filter(pk=int(value)).first()


def _bulk_view(action: str) -> Callable:
    @require_POST
    @business_required
    def view(request: BusinessRequest) -> HttpResponse:
        kwargs: dict = {}
        if action == bulk_services.ASSIGN:
            kwargs["assignee"] = _assignee(request)
            if kwargs["assignee"] is assignment.UNCHANGED:
                return _refused(request, "Pick a member of the business.")
        elif action in (bulk_services.LABEL_ADD, bulk_services.LABEL_REMOVE):
            kwargs["label"] = _label(request)
            if kwargs["label"] is None:
                return _refused(request, "Pick one of the business's labels.")
        try:
            outcome = bulk_services.conversations_bulk(
                business=request.business,
                user=request.user,
                action=action,
                conversation_ids=request.POST.getlist("ids"),
                **kwargs,
            )
        except bulk_services.BulkError as exc:
            return _refused(request, str(exc))
        if not request.htmx:
            flash.success(request, outcome.message)
            return HttpResponseRedirect(_back(request))
        response = HttpResponse(render_live(business_id=request.business.pk, conversation_ids=outcome.changed))
        return trigger_client_event(
            response,
            DONE_EVENT,
            {
                "message": outcome.message,
                "action": action,
                "changed": len(outcome.changed),
                "ignored": outcome.ignored,
            },
        )

    view.__name__ = f"bulk_{action}"
    return view


bulk_resolve = _bulk_view(bulk_services.RESOLVE)
bulk_reopen = _bulk_view(bulk_services.REOPEN)
bulk_read = _bulk_view(bulk_services.READ)
bulk_unread = _bulk_view(bulk_services.UNREAD)
bulk_assign = _bulk_view(bulk_services.ASSIGN)
bulk_label_add = _bulk_view(bulk_services.LABEL_ADD)
bulk_label_remove = _bulk_view(bulk_services.LABEL_REMOVE)


@never_cache
@require_GET
@business_required
def bulk_assignees(request: BusinessRequest) -> HttpResponse:
    """The Assign menu's members (fetched when staff open it, so the list page carries no member list)."""
    members = (
        Membership.objects.for_business(request.business)
        .exclude(user=request.user)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    return render(request, ASSIGNEES_TEMPLATE, {"members": list(members)})
