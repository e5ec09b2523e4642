"""Meta's compliance callbacks (data deletion, deauthorize), the public status page of a deletion
request, and the business's retention settings (docs/compliance.md).

The callbacks are Meta's server calling ours: no session, no CSRF token; the ``signed_request``
(HMAC-SHA256 with the app secret) is the credential. A request that fails its checks gets a 400 with
the reason and changes nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_required
from accounts.forms import DataRetentionForm
from accounts.models import Membership
from inbox.models import DataDeletionRequest
from inbox.services.compliance import COUNT_LABELS, data_deletion_request_receive
from inbox.services.retention import business_data_retention_set
from social.compliance import facebook_user_deauthorize
from social.signed_request import SignedRequest, SignedRequestError, signed_request_parse

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

logger = logging.getLogger(__name__)


def _verified(request: HttpRequest) -> SignedRequest | JsonResponse:
    try:
        return signed_request_parse(request.POST.get("signed_request", ""), secret=settings.FACEBOOK_APP_SECRET)
    except SignedRequestError as exc:
        logger.warning("Refused a Meta compliance callback on %s: %s", request.path, exc)
        return JsonResponse({"error": str(exc)}, status=400)


@csrf_exempt
@require_POST
def data_deletion_callback(request: HttpRequest) -> JsonResponse:
    """Meta: a person asked that their data be deleted. Answers where they can follow it, and a code."""
    signed = _verified(request)
    if isinstance(signed, JsonResponse):
        return signed
    deletion = data_deletion_request_receive(uid=signed.user_id)
    path = reverse("compliance:data_deletion_status", args=[deletion.confirmation_code])
    return JsonResponse({"url": settings.SITE_URL.rstrip("/") + path, "confirmation_code": deletion.confirmation_code})


@require_GET
@never_cache
def data_deletion_status(request: HttpRequest, code: str) -> HttpResponse:
    """Public: the code is the credential. Shows the state and counts, never who or what."""
    deletion = get_object_or_404(DataDeletionRequest, confirmation_code=code)
    counts = [(COUNT_LABELS.get(key, key), value) for key, value in (deletion.counts or {}).items() if value]
    response = render(request, "compliance/data_deletion_status.html", {"deletion": deletion, "counts": counts})
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
@require_POST
def deauthorize_callback(request: HttpRequest) -> JsonResponse:
    """Meta: a person removed the app from their Facebook account."""
    signed = _verified(request)
    if isinstance(signed, JsonResponse):
        return signed
    return JsonResponse({"success": True, **facebook_user_deauthorize(uid=signed.user_id)})


@require_POST
@business_required
def data_retention(request: BusinessRequest) -> HttpResponse:
    """Owners: how long raw webhook bodies and media files are kept."""
    if request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only owners can change how long customers' data is kept.")
    form = DataRetentionForm(request.POST)
    if form.is_valid():
        business_data_retention_set(
            business=request.business, actor=request.user,
            body_days=form.cleaned_data["webhook_body_retention_days"],
            media_days=form.cleaned_data["media_retention_days"],
        )
        messages.success(request, "Saved. Older data is deleted in the next daily clean-up.")
        return redirect(reverse("accounts:business_settings") + "#data-retention")
    errors = "; ".join(
        f"{form.fields[name].label}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items()
    )
    return render(request, "compliance/retention_invalid.html", {"errors": errors}, status=400)
