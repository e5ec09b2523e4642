"""Channel health of one connected page (every member sees it; owners and admins replay and test)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_admin_required, business_required
from accounts.services import audit_record
from inbox import channel_health as health_selectors
from inbox.ingest.replay import webhook_events_replay
from inbox.models import WebhookEvent
from inbox.services.sandbox_check import SandboxUnavailable, sandbox_base_url, test_message_send
from inbox.views.lookups import account_or_404

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest


@never_cache
@require_GET
@business_required
def channel_health(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = account_or_404(request, public_id)
    health = health_selectors.channel_health(account=account)
    chart = {
        "labels": [hour.hour.isoformat() for hour in health.hours],
        "received": [hour.received for hour in health.hours],
        "problems": [hour.problems for hour in health.hours],
    }
    return render(
        request,
        "inbox/channel_health.html",
        {
            "account": account,
            "health": health,
            "chart": chart,
            "can_manage": request.membership.can_manage,
            "can_test": request.membership.can_manage and sandbox_base_url() is not None,
        },
    )


@require_POST
@business_admin_required
def channel_event_replay(request: BusinessRequest, public_id: uuid.UUID, event_pk: int) -> HttpResponse:
    """Process one failed or unroutable event of this page again (idempotent: nothing is stored twice)."""
    account = account_or_404(request, public_id)
    event = (
        WebhookEvent.objects.filter(pk=event_pk, state__in=(WebhookEvent.State.FAILED, WebhookEvent.State.UNROUTABLE))
        .defer("body")
        .first()
    )
    # Another page's event (of this business or any other) is not this page's to replay.
    if event is None or not health_selectors.event_names_account(event, account):
        raise Http404("No such event for this page.")
    webhook_events_replay(event_ids=[event.pk])
    audit_record(
        action="webhook_event.replayed",
        business=request.business,
        actor=request.user,
        target=account,
        metadata={"event": event.pk, "state": event.state},
    )
    flash.success(request, f"Event {event.pk} is being applied again; it shows below until it is processed.")
    return redirect("inbox:channel_health", public_id=account.public_id)


@require_POST
@business_admin_required
def channel_test_message(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Development: the sandbox (standing in for Meta) sends this page a customer's message."""
    account = account_or_404(request, public_id)
    try:
        test_message_send(account=account)
    except SandboxUnavailable as exc:
        flash.error(request, f"The test message was not sent: {exc}")
    else:
        flash.success(request, "The sandbox sent a test message as a customer: it appears in the inbox in a moment.")
    return redirect("inbox:channel_health", public_id=account.public_id)


__all__ = ["channel_event_replay", "channel_health", "channel_test_message"]
