"""Outbound webhooks settings (owners and admins): endpoints, their secret, their delivery log. Thin views.

A secret is shown once, in the answer to the POST that created or rotated it (never stored in the
session or shown again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import business_admin_required
from inbox.views.submit import form_submit
from outbound import deliveries, endpoints, selectors
from outbound.forms import EndpointEditForm, EndpointForm
from outbound.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

LIST_TEMPLATE = "outbound/webhook_list.html"
DETAIL_TEMPLATE = "outbound/webhook_detail.html"


def _endpoint_or_404(request: BusinessRequest, pk: int) -> WebhookEndpoint:
    try:
        return selectors.endpoint_get(business=request.business, pk=pk)
    except WebhookEndpoint.DoesNotExist:
        raise Http404("No such endpoint.") from None


def _list_page(request: BusinessRequest, *, form: EndpointForm | None = None, status: int = 200) -> HttpResponse:
    context = {"endpoints": selectors.endpoint_list(business=request.business), "form": form or EndpointForm()}
    return render(request, LIST_TEMPLATE, context, status=status)


def _detail_page(
    request: BusinessRequest, endpoint: WebhookEndpoint, *, form: EndpointEditForm | None = None,
    new_secret: str = "", status: int = 200,
) -> HttpResponse:
    context = {
        "endpoint": endpoint,
        "form": form or EndpointEditForm(initial={"events": endpoint.events, "description": endpoint.description}),
        "deliveries": selectors.delivery_log(endpoint=endpoint),
        "new_secret": new_secret,
        "log_limit": deliveries.LOG_LIMIT,
    }
    # A shown secret is never cached: every view that shows one is never_cache (no-store).
    return render(request, DETAIL_TEMPLATE, context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@business_admin_required
def endpoint_list(request: BusinessRequest) -> HttpResponse:
    """The business's endpoints; a POST adds one and shows its secret, once."""
    if request.method != "POST":
        return _list_page(request)
    form = EndpointForm(request.POST)
    endpoint = form_submit(
        form,
        lambda data: endpoints.endpoint_create(
            business=request.business, user=request.user, url=data["url"], events=data["events"],
            description=data["description"],
        ),
        refusal=endpoints.EndpointError,
        field="url",
    )
    if endpoint is None:
        return _list_page(request, form=form, status=400)
    return _detail_page(request, endpoint, new_secret=endpoint.secret, status=201)


@never_cache
@require_http_methods(["GET", "POST"])
@business_admin_required
def endpoint_detail(request: BusinessRequest, pk: int) -> HttpResponse:
    """One endpoint and its delivery log; a POST changes its events and description."""
    endpoint = _endpoint_or_404(request, pk)
    if request.method != "POST":
        return _detail_page(request, endpoint)
    form = EndpointEditForm(request.POST)
    saved = form_submit(
        form,
        lambda data: endpoints.endpoint_update(
            endpoint=endpoint, user=request.user, events=data["events"], description=data["description"]
        ),
        refusal=endpoints.EndpointError,
        field="events",
    )
    if saved is None:
        return _detail_page(request, endpoint, form=form, status=400)
    flash.success(request, "Endpoint saved.")
    return HttpResponseRedirect(reverse("outbound:webhook_detail", args=[endpoint.pk]))


@never_cache
@require_POST
@business_admin_required
def endpoint_rotate(request: BusinessRequest, pk: int) -> HttpResponse:
    endpoint = endpoints.endpoint_rotate_secret(endpoint=_endpoint_or_404(request, pk), user=request.user)
    return _detail_page(request, endpoint, new_secret=endpoint.secret)


@require_POST
@business_admin_required
def endpoint_disable(request: BusinessRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    if endpoints.endpoint_disable(endpoint=endpoint, user=request.user):
        flash.success(request, "Endpoint disabled: events wait until you enable it again.")
    return HttpResponseRedirect(reverse("outbound:webhook_detail", args=[endpoint.pk]))


@require_POST
@business_admin_required
def endpoint_enable(request: BusinessRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    if endpoints.endpoint_enable(endpoint=endpoint, user=request.user):
        flash.success(request, "Endpoint enabled: the events that waited are being sent.")
    return HttpResponseRedirect(reverse("outbound:webhook_detail", args=[endpoint.pk]))


@require_POST
@business_admin_required
def endpoint_delete(request: BusinessRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    endpoints.endpoint_delete(endpoint=endpoint, user=request.user)
    flash.success(request, "Endpoint deleted.")
    return HttpResponseRedirect(reverse("outbound:webhook_list"))


@require_POST
@business_admin_required
def delivery_replay(request: BusinessRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    try:
        delivery = selectors.delivery_get(endpoint=endpoint, pk=delivery_pk)
    except WebhookDelivery.DoesNotExist:
        raise Http404("No such delivery.") from None
    deliveries.delivery_replay(delivery=delivery, user=request.user)
    flash.success(request, f"The {delivery.event} event is being sent again.")
    return HttpResponseRedirect(reverse("outbound:webhook_detail", args=[endpoint.pk]))
