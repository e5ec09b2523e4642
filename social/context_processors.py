"""The reconnect banner: shown on every page while an account of the current business needs reconnecting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accounts.middleware import resolve_membership
from social.selectors import accounts_needing_reconnect

if TYPE_CHECKING:
    from django.http import HttpRequest


def reconnect_banner(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    membership = resolve_membership(request)  # cached per request: no extra query
    if membership is None:
        return {}
    return {"reconnect_account_names": accounts_needing_reconnect(business=membership.business)}
