"""The access banner on every page: accounts of the current business that need reconnecting, and those
whose access ends within ten days (social.token_expiry)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.functional import SimpleLazyObject

from accounts.middleware import resolve_membership
from social.token_expiry import banner_accounts

if TYPE_CHECKING:
    from django.http import HttpRequest


def reconnect_banner(request: HttpRequest) -> dict[str, Any]:
    """``access_banner`` (``BannerAccounts``), read on first use: full pages show it, while the htmx
    fragments staff load all day (results, rows, the conversation pane) never touch it and skip its query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    membership = resolve_membership(request)  # cached per request: no extra query
    if membership is None:
        return {}
    business = membership.business
    return {"access_banner": SimpleLazyObject(lambda: banner_accounts(business=business))}
