"""The Meta webhook endpoint (docs/messenger-platform.md §1–§2, §5): verify, store the exact bytes, answer.

This view is on the hot path of every customer message and is benchmarked, so it does the minimum:
one HMAC, one INSERT, and a wake-up for the drain (a cache flag; a broker publish once per burst). It never parses the body (a body Meta signed is
stored even if it is not JSON, and processing marks it failed), never touches the session or the
user, and turns a database outage into a 503 so Meta retries instead of dropping the delivery.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from inbox.facebook.signature import verify_signature
from inbox.ingest.wake import webhook_events_wake
from inbox.models import WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_META_KEY = "HTTP_X_HUB_SIGNATURE_256"


@csrf_exempt
def facebook_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _receive(request)
    if request.method in ("GET", "HEAD"):
        return _verify_subscription(request)
    return HttpResponseNotAllowed(["GET", "POST"])


def _verify_subscription(request: HttpRequest) -> HttpResponse:
    """The subscription handshake: echo ``hub.challenge`` when the verify token matches (§1)."""
    expected = settings.FACEBOOK_VERIFY_TOKEN
    token = request.GET.get("hub.verify_token", "")
    if expected and request.GET.get("hub.mode") == "subscribe" and constant_time_compare(token, expected):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain; charset=utf-8")
    logger.warning("Webhook verification refused (mode=%r)", request.GET.get("hub.mode"))
    return HttpResponse("Forbidden", status=403, content_type="text/plain")


def _receive(request: HttpRequest) -> HttpResponse:
    header = request.META.get(SIGNATURE_META_KEY)
    if not header:
        # Refused before the body is even read.
        logger.warning("Webhook POST without X-Hub-Signature-256 refused")
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    try:
        body = request.body
    except RequestDataTooBig:
        # Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE; say so instead of a 500.
        logger.error("Webhook body over DATA_UPLOAD_MAX_MEMORY_SIZE refused (Content-Length %s)",
                     request.META.get("CONTENT_LENGTH"))
        return HttpResponse("Request body too large", status=413, content_type="text/plain")
    if not verify_signature(body, header, settings.FACEBOOK_APP_SECRET):
        # A forgery or a misconfigured app secret: either way nothing is stored, and it must be noticed.
        logger.warning("Webhook POST with an invalid signature refused (%d bytes)", len(body))
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    try:
        WebhookEvent.objects.create(body=body, signature=header)
    except DatabaseError:
        # Meta redelivers on any non-200, so the message is not lost while the database is down.
        logger.exception("Webhook event could not be stored; answering 503 so Meta retries")
        response = HttpResponse("Service unavailable", status=503, content_type="text/plain")
        response["Retry-After"] = "5"
        return response
    transaction.on_commit(webhook_events_wake)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")
