"""Deliveries: one row per event and endpoint, sent by its own task and retried for a day.

- ``deliveries_create``: an event of a business becomes a delivery for each active endpoint that
  subscribed to it (one INSERT), each queued after commit.
- ``delivery_attempt``: one try. The try claims the delivery with a short lease first (a conditional
  UPDATE), so a duplicate task (a broker redelivering a long countdown, the requeue pass) sends nothing
  twice at once; the POST runs outside any transaction. A 2xx succeeds; anything else is retried on
  ``RETRY_DELAYS`` (with jitter) until a day after the first try, then given up. A URL our address
  rules refuse is given up at once: it would be refused again.
- An endpoint whose deliveries all failed for a day (``failing_since``) is disabled, and the owners
  and admins are emailed. A success clears ``failing_since``.
- ``delivery_replay``: a member sends an event again (a new delivery of the same event id).
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.services import audit_record
from config.tasks import enqueue, enqueue_on_commit
from outbound.endpoints import endpoint_disable
from outbound.models import WebhookDelivery, WebhookEndpoint
from outbound.payloads import event_payload
from outbound.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header
from outbound.transport import DeliveryRefused, post

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

State = WebhookDelivery.State
# Seconds after each failed try; the last repeats until a day after the first try.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 7200, 14400, 28800)
RETRY_JITTER = 0.1  # ± this share of the delay, so a recovering receiver is not hit by every retry at once
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)
# A try claims its delivery this long: longer than the request's timeouts, shorter than any retry.
LEASE = timedelta(seconds=25)
# A waiting delivery this late lost its task (broker outage, restart): the requeue pass sends it.
STALE_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 500
# The delivery log keeps this long; older deliveries are deleted by the daily prune.
KEEP_FOR = timedelta(days=30)
ERROR_LENGTH = WebhookDelivery._meta.get_field("error").max_length
LOG_LIMIT = 100
WAITING = (State.PENDING, State.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What one call of ``delivery_attempt`` did: ``retry_in`` seconds when another try is due."""

    attempted: bool
    state: str = ""
    retry_in: int | None = None


def deliveries_create(*, business_id: int, event: str, documents: list[dict]) -> list[int]:
    """One delivery per document and subscribed active endpoint, queued after commit; their ids."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(business_id=business_id, is_active=True).only("pk", "events")
        if event in (endpoint.events or [])
    ]
    if not endpoints or not documents:
        return []
    now = timezone.now()
    rows = []
    for data in documents:
        event_id = uuid.uuid4()
        payload = event_payload(event_id=str(event_id), event=event, created_at=now, data=data)
        rows += [
            WebhookDelivery(business_id=business_id, endpoint_id=endpoint.pk, event_id=event_id, event=event,
                            payload=payload, next_attempt_at=now)
            for endpoint in endpoints
        ]
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(rows)
        ids = [row.pk for row in created]
        for pk in ids:
            enqueue_on_commit("outbound.tasks.delivery_send", pk)
    return ids


def retry_delay(attempts: int) -> int:
    """Seconds before the try after ``attempts`` failed ones, with jitter."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return max(1, round(base * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for this try if it is due and nobody else holds it (its lease ran out)."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return bool(
        WebhookDelivery.objects.filter(due, pk=delivery_id, state__in=WAITING, endpoint__is_active=True).update(
            next_attempt_at=now + LEASE
        )
    )


def _request(delivery: WebhookDelivery, now: datetime) -> tuple[int | None, str, str, int | None, bool]:
    """POST the payload: (status, body excerpt, error, duration in ms, whether retrying may help)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        SIGNATURE_HEADER: signature_header(delivery.endpoint.secret, body, int(now.timestamp())),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.event_id),
    }
    try:
        answer = post(delivery.endpoint.url, body=body, headers=headers)
    except DeliveryRefused as exc:
        return None, "", f"Refused: {exc}", None, False
    except requests.Timeout:
        return None, "", "No answer within 10 seconds.", None, True
    except requests.RequestException as exc:
        return None, "", f"Could not connect: {type(exc).__name__}", None, True
    error = "" if 200 <= answer.status < 300 else f"The endpoint answered {answer.status}."
    return answer.status, answer.body, error, answer.duration_ms, True


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Outcome:
    """One try of a delivery, if it is due (see the module's docstring); records it whatever happens."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return Outcome(attempted=False)
    delivery = WebhookDelivery.objects.select_related("endpoint__business").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted a moment ago
        return Outcome(attempted=False)
    status, body, error, duration_ms, retryable = _request(delivery, now)
    succeeded = not error
    log = [*(delivery.attempts_log or []), {
        "at": now.isoformat(), "status": status, "error": error, "durationMs": duration_ms,
    }]
    first = datetime.fromisoformat(log[0]["at"])
    retry_at = None
    if not succeeded and retryable and now < first + GIVE_UP_AFTER:
        retry_at = min(now + timedelta(seconds=retry_delay(len(log))), first + GIVE_UP_AFTER)
    state = State.SUCCEEDED if succeeded else (State.FAILED if retry_at else State.GIVEN_UP)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        state=state, attempts=len(log), attempts_log=log, next_attempt_at=retry_at, response_status=status,
        response_body=body, error=error[:ERROR_LENGTH], duration_ms=duration_ms,
        delivered_at=now if succeeded else None,
    )
    _endpoint_health(delivery.endpoint, succeeded=succeeded, now=now)
    retry_in = max(1, int((retry_at - now).total_seconds())) if retry_at else None
    return Outcome(attempted=True, state=state, retry_in=retry_in)


def _endpoint_health(endpoint: WebhookEndpoint, *, succeeded: bool, now: datetime) -> None:
    """A success ends the endpoint's failing streak; a day of nothing but failures disables it."""
    rows = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if succeeded:
        rows.filter(failing_since__isnull=False).update(failing_since=None)
        return
    rows.filter(failing_since__isnull=True).update(failing_since=now)
    since = rows.values_list("failing_since", flat=True).first()
    if since is not None and now - since >= DISABLE_AFTER:
        endpoint_disable_failing(endpoint=endpoint, since=since)


def endpoint_disable_failing(*, endpoint: WebhookEndpoint, since: datetime) -> bool:
    """Disable an endpoint that failed every delivery since ``since``, and tell the owners and admins."""
    reason = f"Every delivery failed since {since:%Y-%m-%d %H:%M} UTC."
    if not endpoint_disable(endpoint=endpoint, user=None, reason=reason):
        return False
    try:
        _email_disabled(endpoint=endpoint, reason=reason)
    except Exception:  # the endpoint stays disabled; the page says why
        logger.exception("Email about disabled webhook endpoint %s failed", endpoint.pk)
    return True


def _email_disabled(*, endpoint: WebhookEndpoint, reason: str) -> int:
    from social.services import business_owner_emails

    recipients = business_owner_emails(business=endpoint.business)
    if not recipients:
        return 0
    context = {
        "endpoint": endpoint,
        "business": endpoint.business,
        "reason": reason,
        "url": f"{settings.SITE_URL.rstrip('/')}{reverse('outbound:webhook_detail', args=[endpoint.pk])}",
    }
    subject = render_to_string("outbound/email/endpoint_disabled_subject.txt", context).strip()
    body = render_to_string("outbound/email/endpoint_disabled_body.txt", context)
    return send_mail(subject, body, None, recipients, fail_silently=False)


def delivery_replay(*, delivery: WebhookDelivery, user: User) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery (same event id: receivers may dedupe on it)."""
    with transaction.atomic():
        replay = WebhookDelivery.objects.create(
            business_id=delivery.business_id, endpoint_id=delivery.endpoint_id, event_id=delivery.event_id,
            event=delivery.event, payload=delivery.payload, replay_of=delivery, next_attempt_at=timezone.now(),
        )
        audit_record(action="outbound.delivery.replayed", business=delivery.endpoint.business, actor=user,
                     target=replay, metadata={"replay_of": delivery.pk, "event": delivery.event,
                                              "event_id": str(delivery.event_id), "endpoint": delivery.endpoint_id})
        enqueue_on_commit("outbound.tasks.delivery_send", replay.pk)
    return replay


def deliveries_requeue_due(*, now: datetime | None = None) -> int:
    """Queue again the waiting deliveries of active endpoints that are overdue (their task was lost)."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            state__in=WAITING, endpoint__is_active=True, next_attempt_at__lte=now - STALE_AFTER
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    return sum(enqueue("outbound.tasks.delivery_send", pk) for pk in ids)


def deliveries_prune(*, now: datetime | None = None) -> int:
    """Delete the deliveries older than ``KEEP_FOR`` that are done (their payloads hold customers' messages)."""
    now = now or timezone.now()
    old = WebhookDelivery.objects.filter(created_at__lt=now - KEEP_FOR).exclude(state__in=WAITING)
    deleted, _ = old.delete()
    return deleted
