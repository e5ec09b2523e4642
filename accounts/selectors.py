"""Reads for businesses and memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.models import Membership

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import Business, User


def membership_for(*, user: User, business_id: int | None) -> Membership | None:
    """The user's membership in that business, or their first one when no business is chosen."""
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("business").filter(user=user)
    if business_id is not None:
        found = memberships.filter(business_id=business_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at", "id").first()


def membership_list(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("business").filter(user=user).order_by("business__name")


def team_list(*, business: Business) -> QuerySet[Membership]:
    return Membership.objects.for_business(business).select_related("user").order_by("role", "user__email")
