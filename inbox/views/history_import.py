"""A page's history import: its progress (every member) and "Import history" (owners and admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_admin_required, business_required
from inbox.models import HistoryImport
from inbox.services.history_import import history_import_latest, history_import_start
from inbox.views.lookups import account_or_404
from social.models import SocialAccount

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

TEMPLATE = "inbox/_history_import.html"


def history_context(*, account: SocialAccount, can_manage: bool) -> dict:
    return {
        "account": account,
        "history": history_import_latest(account=account),
        "reconciliation": history_import_latest(account=account, kind=HistoryImport.Kind.RECONCILE),
        "can_manage": can_manage,
    }


@never_cache
@require_GET
@business_required
def history_import_status(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """The progress fragment; it asks again every 2 seconds while the import runs."""
    account = account_or_404(request, public_id)
    return render(request, TEMPLATE, history_context(account=account, can_manage=request.membership.can_manage))


@require_POST
@business_admin_required
def history_import_begin(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = account_or_404(request, public_id)
    if account.status != SocialAccount.Status.ACTIVE:
        if request.htmx:
            return HttpResponse("Reconnect the page before importing its history.", status=400)
        flash.error(request, "Reconnect the page before importing its history.")
        return redirect("inbox:channel_health", public_id=account.public_id)
    history_import_start(account=account, actor=request.user)
    if request.htmx:
        return render(request, TEMPLATE, history_context(account=account, can_manage=True))
    flash.success(request, "Importing the page's earlier conversations: they appear in the inbox as they arrive.")
    return redirect("inbox:channel_health", public_id=account.public_id)


__all__ = ["history_import_begin", "history_import_status"]
