"""Reads of the webhook settings pages, always through the business (``for_business``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from outbound.deliveries import LOG_LIMIT
from outbound.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.models import Business


def endpoint_list(*, business: Business) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_business(business).order_by("created_at", "pk")


def endpoint_get(*, business: Business, pk: int) -> WebhookEndpoint:
    """Raises ``WebhookEndpoint.DoesNotExist`` for an id of another business."""
    return WebhookEndpoint.objects.for_business(business).select_related("business").get(pk=pk)


def delivery_log(*, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (the payload left unloaded: the log does not show it)."""
    return list(
        WebhookDelivery.objects.for_business(endpoint.business)
        .filter(endpoint=endpoint)
        .defer("payload")
        .order_by("-created_at", "-pk")[:LOG_LIMIT]
    )


def delivery_get(*, endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    """Raises ``WebhookDelivery.DoesNotExist`` unless it is this endpoint's (of the same business)."""
    return (
        WebhookDelivery.objects.for_business(endpoint.business)
        .select_related("endpoint__business")
        .get(endpoint=endpoint, pk=pk)
    )
