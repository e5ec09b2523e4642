"""The one mechanism that resolves the current business of a request.

The business is chosen in the session (switching is a POST that 404s for a non-member); every view
then scopes its queries with `request.business`. The WebSocket consumer reads the same session key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.functional import SimpleLazyObject

from accounts.selectors import membership_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse

    from accounts.models import Membership

SESSION_KEY = "current_business_id"


def resolve_membership(request: Any) -> Membership | None:
    """The member's row for the session's business, looked up once per request (None: no access)."""
    if not hasattr(request, "_cached_membership"):
        request._cached_membership = membership_for(
            user=request.user, business_id=request.session.get(SESSION_KEY)
        )
    return request._cached_membership


class CurrentBusinessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> HttpResponse:  # adds the attributes of accounts.requests
        # Lazy: the webhook and static files never pay for the lookup.
        request.membership = SimpleLazyObject(lambda: resolve_membership(request))
        request.business = SimpleLazyObject(lambda: getattr(resolve_membership(request), "business", None))
        return self.get_response(request)
