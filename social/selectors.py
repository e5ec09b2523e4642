"""Reads for connected accounts; every read that serves a user takes the business explicitly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    import uuid

    from django.db.models import QuerySet

    from accounts.models import Business


def account_list(*, business: Business) -> QuerySet[SocialAccount]:
    """The business's accounts, Pages first, each Instagram account after its Page's name."""
    return (
        SocialAccount.objects.for_business(business)
        .select_related("page", "connected_by")
        .order_by("status", "platform", "account_name", "id")
    )


def account_get(*, business: Business, public_id: uuid.UUID) -> SocialAccount:
    """One account of the business by its public id; another business's raises DoesNotExist (a 404 in views)."""
    return SocialAccount.objects.for_business(business).select_related("business", "page").get(public_id=public_id)


def accounts_for_health_check() -> QuerySet[SocialAccount]:
    """Active Facebook Pages with a token: the ones token and subscription checks look at."""
    return (
        SocialAccount.objects.filter(platform=Platform.FACEBOOK, status=SocialAccount.Status.ACTIVE)
        .exclude(access_token="")
        .order_by("id")
    )
