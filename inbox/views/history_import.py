"""A page's history import: its progress (every member) and "Import history" (owners and admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_admin_required, business_required
from inbox.models import HistoryImport
from inbox.services.history_import import history_import_latest, history_import_start
from social.models import SocialAccount

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

TEMPLATE = "inbox/_history_import.html"


def _account_or_404(request: BusinessRequest, pk: int) -> SocialAccount:
    account = SocialAccount.objects.for_business(request.business).without_tokens().filter(pk=pk).first()
    if account is None:
        raise Http404("No such page.")
    return account


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
def history_import_status(request: BusinessRequest, pk: int) -> HttpResponse:
    """The progress fragment; it asks again every 2 seconds while the import runs."""
    account = _account_or_404(request, pk)
    return render(request, TEMPLATE, history_context(account=account, can_manage=request.membership.can_manage))


@require_POST
@business_admin_required
def history_import_begin(request: BusinessRequest, pk: int) -> HttpResponse:
    account = _account_or_404(request, pk)
    if account.status != SocialAccount.Status.ACTIVE:
        if request.htmx:
            return HttpResponse("Reconnect the page before importing its history.", status=400)
        flash.error(request, "Reconnect the page before importing its history.")
        return redirect("inbox:channel_health", pk=account.pk)
    history_import_start(account=account, actor=request.user)
    if request.htmx:
        return render(request, TEMPLATE, history_context(account=account, can_manage=True))
    flash.success(request, "Importing the page's earlier conversations: they appear in the inbox as they arrive.")
    return redirect("inbox:channel_health", pk=account.pk)


__all__ = ["history_import_begin", "history_import_status"]
