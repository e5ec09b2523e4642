"""The Meta webhook endpoint (docs/messenger-platform.md §1–§2, §5): the handshake, and the POST's Django front door.

The POST's steps (signature, size limit, one INSERT, 503 on a database error, the drain's wake-up
after commit) are ``inbox.ingest.receive``'s; this view only reads the request and turns the answer
into a response. It never parses the body and never touches the session or the user. In production
the ASGI adapter (``inbox.webhook_asgi``) answers the POST with the same steps before Django's
request cycle; this view answers it on SQLite (the embedded default) and with the adapter off.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from config.metrics import webhook_answered
from inbox.ingest import receive
from inbox.ingest.receive import webhook_event_store

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
    query = request.GET
    return _http(receive.subscription_answer(
        query.get("hub.mode", ""), query.get("hub.verify_token", ""), query.get("hub.challenge", ""),
    ))


def _receive(request: HttpRequest) -> HttpResponse:
    header: str = request.META.get(SIGNATURE_META_KEY) or ""
    answer = receive.refused_unsigned(header)
    if answer is None:
        try:
            body = request.body  # Django raises over DATA_UPLOAD_MAX_MEMORY_SIZE
        except RequestDataTooBig:
            answer = receive.too_large(request.META.get("CONTENT_LENGTH"))
        else:
            answer = receive.refused_forged(body, header) or webhook_event_store(body, header)
    return _response(answer)


def _response(answer: receive.Answer) -> HttpResponse:
    webhook_answered(answer.status)
    return _http(answer)


def _http(answer: receive.Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type="text/plain")
    for name, value in answer.headers:
        response[name] = value
    return response
