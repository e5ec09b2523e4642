"""The page settings screen for a Facebook Page's Messenger profile (owners and admins only).

Thin: `social.messenger_profile` checks, stores, pushes and reads back. A form that breaks Meta's
limits comes back with its errors (400) and nothing is sent; Meta's refusal is stored on the profile
and shown on the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import business_admin_required
from social import messenger_profile as profiles
from social import selectors
from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping

    from django.http import HttpResponse

    from accounts.requests import BusinessRequest

TEMPLATE = "social/messenger_profile.html"


def _page_or_404(request: BusinessRequest, public_id: uuid.UUID) -> SocialAccount:
    try:
        account = selectors.account_get(business=request.business, public_id=public_id)
    except SocialAccount.DoesNotExist:
        raise Http404("No such page.") from None
    if account.platform != Platform.FACEBOOK:
        raise Http404("The Messenger profile belongs to a Facebook Page.")
    return account


def _rows(values: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The form's rows (at least the most Meta allows, more if more were posted)."""
    ice_numbers = profiles.field_numbers(values, "ice_")
    menu_numbers = profiles.field_numbers(values, "menu_")
    ice_count = max([profiles.ICE_BREAKERS_MAX, *ice_numbers])
    menu_count = max([profiles.MENU_MAX, *menu_numbers])
    return {
        "ice_rows": [
            {"n": n, "question": values.get(f"ice_{n}_question", ""), "payload": values.get(f"ice_{n}_payload", ""),
             "error": errors.get(f"ice_{n}", "")}
            for n in range(1, ice_count + 1)
        ],
        "menu_rows": [
            {"n": n, "type": values.get(f"menu_{n}_type", "") or profiles.POSTBACK,
             "title": values.get(f"menu_{n}_title", ""), "value": values.get(f"menu_{n}_value", ""),
             "error": errors.get(f"menu_{n}", "")}
            for n in range(1, menu_count + 1)
        ],
    }


def _stored_values(profile) -> dict[str, str]:
    values = {"greeting": profile.greeting}
    for n, item in enumerate(profile.ice_breakers or [], start=1):
        values[f"ice_{n}_question"], values[f"ice_{n}_payload"] = item.get("question", ""), item.get("payload", "")
    for n, item in enumerate(profile.menu or [], start=1):
        values[f"menu_{n}_type"] = item.get("type", profiles.POSTBACK)
        values[f"menu_{n}_title"] = item.get("title", "")
        values[f"menu_{n}_value"] = item.get("url") or item.get("payload", "")
    return values


def _render(request: BusinessRequest, account: SocialAccount, *, values: Mapping[str, Any],
            errors: Mapping[str, str], status: int = 200) -> HttpResponse:
    profile = profiles.messenger_profile_get(account=account)
    return render(request, TEMPLATE, {
        "account": account,
        "profile": profile,
        "values": values,
        "errors": errors,
        "limits": {"greeting": profiles.GREETING_MAX, "ice": profiles.ICE_BREAKERS_MAX, "menu": profiles.MENU_MAX,
                   "title": profiles.TITLE_MAX, "question": profiles.QUESTION_MAX},
        **_rows(values, errors),
    }, status=status)


@require_http_methods(["GET", "POST"])
@business_admin_required
def messenger_profile(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = _page_or_404(request, public_id)
    if request.method == "GET":
        profile = profiles.messenger_profile_get(account=account)
        return _render(request, account, values=_stored_values(profile), errors={})
    values = request.POST.dict()
    draft = profiles.profile_parse(values)
    if account.status != SocialAccount.Status.ACTIVE:
        draft.errors[""] = "This page is not connected: reconnect it before changing its Messenger profile."
    if not draft.is_valid:
        return _render(request, account, values=values, errors=draft.errors, status=400)
    try:
        profiles.messenger_profile_push(account=account, draft=draft, actor=request.user)
    except profiles.ProfilePushError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The Messenger profile of {account.account_name} is saved on Meta.")
    return redirect("social:messenger_profile", public_id=account.public_id)


@require_POST
@business_admin_required
def messenger_profile_read(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = _page_or_404(request, public_id)
    try:
        profiles.messenger_profile_read(account=account, actor=request.user)
    except profiles.ProfilePushError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Read what Meta has now.")
    return redirect("social:messenger_profile", public_id=account.public_id)
