from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accounts.middleware import resolve_membership

if TYPE_CHECKING:
    from django.http import HttpRequest


def current_business(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    membership = resolve_membership(request)
    return {
        "current_membership": membership,
        "current_business": getattr(membership, "business", None),
    }
