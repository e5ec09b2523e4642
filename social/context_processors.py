"""The access banner on every page: accounts of the current business that need reconnecting, and those
whose access ends within ten days (social.token_expiry)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accounts.middleware import resolve_membership
from social.token_expiry import banner_accounts

if TYPE_CHECKING:
    from django.http import HttpRequest


def reconnect_banner(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    membership = resolve_membership(request)  # cached per request: no extra query
    if membership is None:
        return {}
    reconnect, expiring = banner_accounts(business=membership.business)
    return {"reconnect_account_names": reconnect, "expiring_accounts": expiring}
