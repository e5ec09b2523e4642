"""The sandbox's side of Meta's compliance callbacks (docs/messenger-platform.md, "Compliance callbacks").

A person removes the app from their Facebook settings, or asks for their data to be deleted: Meta
POSTs a form with one field, ``signed_request`` (``<base64url HMAC-SHA256 signature>.<base64url JSON>``,
signed with the app secret), to the URLs entered in the App Dashboard. The control endpoints below
build that exact request for a sandbox Facebook user and POST it to SITE_URL's callbacks, and answer
what the app answered. Removing the app also ends the person's tokens, as on Meta (code 190,
subcode 458 "the user has not authorized the application").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import requests
from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.models import FacebookUser, Token
from sandbox.views import _json
from social.signed_request import signed_request_build

if TYPE_CHECKING:
    from django.http import HttpRequest

APP_NOT_AUTHORIZED_SUBCODE = 458


def signed_request_for(user: FacebookUser, *, issued_at: int | None = None) -> str:
    """The ``signed_request`` Meta sends about ``user`` (its ``user_id`` is the app-scoped id)."""
    now = int(time.time()) if issued_at is None else issued_at
    return signed_request_build(
        {"expires": 0, "issued_at": now, "user_id": user.fb_id}, secret=settings.FACEBOOK_APP_SECRET
    )


def _post(url_name: str, user: FacebookUser) -> JsonResponse:
    url = settings.SITE_URL.rstrip("/") + reverse(url_name)
    try:
        response = requests.post(url, data={"signed_request": signed_request_for(user)}, timeout=10)
    except requests.RequestException as exc:
        return JsonResponse({"error": f"the callback could not be reached ({type(exc).__name__})"}, status=502)
    try:
        answer = response.json()
    except ValueError:
        answer = {"body": response.text[:500]}
    return JsonResponse({"status": response.status_code, "answer": answer}, status=200 if response.ok else 502)


def _user(request: HttpRequest) -> FacebookUser | JsonResponse:
    user = FacebookUser.objects.filter(fb_id=str(_json(request).get("user_id") or "")).first()
    if user is None:
        return JsonResponse({"error": "user_id of a sandbox Facebook user is required"}, status=400)
    return user


@csrf_exempt
@require_http_methods(["POST"])
def control_data_deletion(request: HttpRequest) -> JsonResponse:
    """{user_id}: the person asked for their data to be deleted; the app's answer ({url, confirmation_code})."""
    user = _user(request)
    if isinstance(user, JsonResponse):
        return user
    return _post("compliance:data_deletion", user)


@csrf_exempt
@require_http_methods(["POST"])
def control_deauthorize(request: HttpRequest) -> JsonResponse:
    """{user_id}: the person removed the app; their tokens stop working, then Meta tells the app."""
    user = _user(request)
    if isinstance(user, JsonResponse):
        return user
    Token.objects.filter(user=user).update(invalid_subcode=APP_NOT_AUTHORIZED_SUBCODE)
    return _post("compliance:deauthorize", user)
