"""Reads for connected accounts; every read that serves a user takes the business explicitly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import Business


def account_list(*, business: Business) -> QuerySet[SocialAccount]:
    """The business's accounts, Pages first, each Instagram account after its Page's name."""
    return (
        SocialAccount.objects.for_business(business)
        .select_related("page", "connected_by")
        .order_by("status", "platform", "account_name", "id")
    )


def account_get(*, business: Business, pk: int) -> SocialAccount:
    """One account of the business; another business's id raises DoesNotExist (a 404 in views)."""
    return SocialAccount.objects.for_business(business).select_related("business", "page").get(pk=pk)


def accounts_for_health_check() -> QuerySet[SocialAccount]:
    """Active Facebook Pages with a token: the ones token and subscription checks look at."""
    return (
        SocialAccount.objects.filter(platform=Platform.FACEBOOK, status=SocialAccount.Status.ACTIVE)
        .exclude(access_token="")
        .order_by("id")
    )
