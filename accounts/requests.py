"""What the middleware and the view decorators add to Django's request, written down for mypy.

`CurrentBusinessMiddleware` sets `membership` and `business` (None for a visitor without one);
`business_required` makes both concrete and guarantees a signed-in user. Views annotate their request
with the class that matches their decorator, so `request.business.pk` type-checks where it is safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from accounts.models import Business, Membership, User


class InboxRequest(HttpRequest):
    """Any request that went through the middleware stack."""

    htmx: HtmxDetails
    membership: Membership | None
    business: Business | None


class AuthenticatedRequest(HttpRequest):
    """Behind `login_required`."""

    user: User
    htmx: HtmxDetails


class BusinessRequest(AuthenticatedRequest):
    """Behind `business_required`: a signed-in member of the business the session chose."""

    membership: Membership
    business: Business
