"""A business's webhook endpoints: adding, rotating the secret, disabling, enabling, deleting.

Every change is audited. Whether a business has an active endpoint at all is cached
(``business_has_active_endpoint``), because the inbox asks it for every message it stores: a business
without one costs the ingest no query. Each change here forgets that answer after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from outbound.models import EVENT_NAMES, WebhookDelivery, WebhookEndpoint
from outbound.signing import secret_new
from outbound.transport import private_allowed
from social.safe_fetch import address_refusal

if TYPE_CHECKING:
    from accounts.models import Business, User

ACTIVE_CACHE_SECONDS = 600
MAX_ENDPOINTS = 20
URL_MAX_LENGTH: int = WebhookEndpoint._meta.get_field("url").max_length or 500


class EndpointError(Exception):
    """A change refused, with a message fit for the owner who asked."""


def _active_key(business_id: int) -> str:
    return f"outbound:active:{business_id}"


def business_has_active_endpoint(business_id: int) -> bool:
    """Whether any endpoint of the business is active: one cache read, a query only on a miss."""
    known = cache.get(_active_key(business_id))
    if known is None:
        known = int(WebhookEndpoint.objects.filter(business_id=business_id, is_active=True).exists())
        cache.set(_active_key(business_id), known, ACTIVE_CACHE_SECONDS)
    return bool(known)


def business_known_without_endpoint(business_id: int) -> bool:
    """Whether the cache already says the business has no active endpoint (no query, ever)."""
    return cache.get(_active_key(business_id)) == 0


def _forget_active_on_commit(business_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(_active_key(business_id)))


def endpoint_url_check(url: str) -> str:
    """The URL cleaned, or ``EndpointError``: https (http only where private receivers are allowed),
    no credentials, and not an address our rules refuse to send to."""
    url = (url or "").strip()
    if len(url) > URL_MAX_LENGTH:
        raise EndpointError(f"The URL is longer than {URL_MAX_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise EndpointError("Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointError("Enter a URL that starts with https://.")
    if parts.username or parts.password:
        raise EndpointError("The URL must not carry a user name or password.")
    if private_allowed():
        return url
    if parts.scheme != "https":
        raise EndpointError("Use an https:// URL: deliveries carry your customers' messages.")
    if host == "localhost" or host.endswith(".localhost"):
        raise EndpointError("This URL points to this server, not to a public address.")
    try:
        refusal = address_refusal(host)
    except ValueError:  # a host name: its addresses are checked at every delivery
        refusal = None
    if refusal is not None:
        raise EndpointError(f"This URL points to {refusal}; use a public address.")
    return url


def endpoint_events_check(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [name for name in chosen if name not in EVENT_NAMES]
    if unknown:
        raise EndpointError(f"Unknown event: {', '.join(unknown)}.")
    if not chosen:
        raise EndpointError("Choose at least one event.")
    return chosen


def endpoint_create(
    *, business: Business, user: User, url: str, events: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    """A new active endpoint with a new secret (``endpoint.secret``, to show this once)."""
    url, events = endpoint_url_check(url), endpoint_events_check(events)
    if WebhookEndpoint.objects.for_business(business).count() >= MAX_ENDPOINTS:
        raise EndpointError(f"A business can have at most {MAX_ENDPOINTS} endpoints.")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            business=business, url=url, events=events, description=description.strip()[:200],
            secret=secret_new(), created_by=user,
        )
        audit_record(action="outbound.endpoint.created", business=business, actor=user, target=endpoint,
                     metadata={"url": url, "events": events})
        _forget_active_on_commit(business.pk)
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, user: User, events: Iterable[str], description: str) -> WebhookEndpoint:
    events = endpoint_events_check(events)
    with transaction.atomic():
        before = endpoint.events
        endpoint.events, endpoint.description = events, description.strip()[:200]
        endpoint.save(update_fields=["events", "description"])
        audit_record(action="outbound.endpoint.updated", business=endpoint.business, actor=user, target=endpoint,
                     metadata={"url": endpoint.url, "events_from": before, "events": events})
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, user: User) -> WebhookEndpoint:
    """A new secret at once (``endpoint.secret``, to show this once); the old one signs nothing more."""
    with transaction.atomic():
        endpoint.secret = secret_new()
        endpoint.save(update_fields=["secret"])
        audit_record(action="outbound.endpoint.secret_rotated", business=endpoint.business, actor=user,
                     target=endpoint, metadata={"url": endpoint.url})
    return endpoint


def endpoint_disable(
    *, endpoint: WebhookEndpoint, user: User | None, reason: str = "Disabled by a member."
) -> bool:
    """Stop delivering to the endpoint (its waiting deliveries wait); True when this call disabled it."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:300]
        )
        if changed:
            endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason[:300]
            audit_record(action="outbound.endpoint.disabled", business=endpoint.business, actor=user,
                         target=endpoint, metadata={"url": endpoint.url, "reason": reason[:300]})
            _forget_active_on_commit(endpoint.business_id)
    return bool(changed)


def endpoint_enable(*, endpoint: WebhookEndpoint, user: User) -> bool:
    """Deliver again: the failure clock starts over, and the deliveries that waited are sent now."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=False).update(
            is_active=True, disabled_at=None, disabled_reason="", failing_since=None
        )
        if not changed:
            return False
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = (
            True, None, "", None,
        )
        waiting = list(
            endpoint.deliveries.filter(state__in=(WebhookDelivery.State.PENDING, WebhookDelivery.State.FAILED))
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=waiting).update(next_attempt_at=now)
        for pk in waiting:
            enqueue_on_commit("outbound.tasks.delivery_send", pk)
        audit_record(action="outbound.endpoint.enabled", business=endpoint.business, actor=user, target=endpoint,
                     metadata={"url": endpoint.url, "resent": len(waiting)})
        _forget_active_on_commit(endpoint.business_id)
    return True


def endpoint_delete(*, endpoint: WebhookEndpoint, user: User) -> None:
    with transaction.atomic():
        audit_record(action="outbound.endpoint.deleted", business=endpoint.business, actor=user, target=endpoint,
                     metadata={"url": endpoint.url, "events": endpoint.events})
        endpoint.delete()
        _forget_active_on_commit(endpoint.business_id)

