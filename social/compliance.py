"""What Meta's compliance callbacks change on the social side: a Facebook user's login link and the
pages whose token came from them (docs/compliance.md).

Meta names the person by their app-scoped id, which is the ``uid`` of their allauth Facebook
``SocialAccount`` (the staff member who signed in with Facebook). The inbox side (customers' data) is
``inbox.services.compliance``, which calls these.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from allauth.socialaccount.models import SocialAccount as LoginLink
from allauth.socialaccount.models import SocialToken
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.services import audit_record
from social.models import Platform, SocialAccount
from social.services import account_mark_needs_reconnect

FACEBOOK_PROVIDER = "facebook"
# Keys of SocialAccount.settings that describe the person who connected the page (never the page).
PROFILE_KEYS = ("profile",)
DEAUTHORIZED_REASON = (
    "The Facebook user who connected this page removed Social Inbox from their Facebook account. "
    "Reconnect it with the Facebook login of another admin of the page."
)


@dataclass
class LoginDeletion:
    """What was deleted for one Facebook user: totals, and per business the businesses it touched."""

    user_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    business_counts: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))


def _links(uid: str):
    return LoginLink.objects.filter(provider=FACEBOOK_PROVIDER, uid=uid)


def facebook_user_data_delete(*, uid: str) -> LoginDeletion:
    """Delete the Facebook login link (and its tokens) of the staff member ``uid`` names, and the
    profile data about them stored on the pages they connected. The pages stay connected and the
    staff account (email sign-in, memberships) stays: those are the business's, not Meta's data.
    Idempotent: a second run finds nothing and changes nothing."""
    result = LoginDeletion()
    with transaction.atomic():
        links = list(_links(uid).select_related("user"))
        user = links[0].user if links else None
        result.user_id = user.pk if user is not None else None
        tokens, _ = SocialToken.objects.filter(account__in=links).delete()
        deleted_links = LoginLink.objects.filter(pk__in=[link.pk for link in links]).delete()[1].get(
            LoginLink._meta.label, 0
        )
        profiles = 0
        if user is not None:
            # A few pages per person: one small UPDATE each (settings is JSON, edited key by key).
            for account in SocialAccount.objects.select_for_update().filter(connected_by=user):
                kept = {k: v for k, v in (account.settings or {}).items() if k not in PROFILE_KEYS}
                if kept != (account.settings or {}):
                    SocialAccount.objects.filter(pk=account.pk).update(settings=kept, updated_at=timezone.now())
                    profiles += 1
                    counts = result.business_counts[account.business_id]
                    counts["page_profiles"] = counts.get("page_profiles", 0) + 1
            if deleted_links:
                for business_id in Membership.objects.filter(user=user).values_list("business_id", flat=True):
                    result.business_counts[business_id]["login_links"] = deleted_links
    result.counts = {"login_links": deleted_links, "login_tokens": tokens, "page_profiles": profiles}
    return result


def facebook_user_deauthorize(*, uid: str) -> dict[str, int]:
    """The person removed the app from their Facebook account: their Facebook login's tokens go, and
    every Facebook Page they connected (whose token came from them) needs reconnecting, with the reason
    (its Instagram accounts follow, through ``account_mark_needs_reconnect``). Returns counts."""
    with transaction.atomic():
        links = list(_links(uid).select_related("user"))
        tokens, _ = SocialToken.objects.filter(account__in=links).delete()
        now = timezone.now().isoformat()
        for link in links:
            link.extra_data = {**(link.extra_data or {}), "deauthorized_at": now}
            link.save(update_fields=["extra_data"])
        flagged = 0
        users = {link.user_id for link in links}
        pages = list(SocialAccount.objects.filter(
            connected_by__in=users, platform=Platform.FACEBOOK, status=SocialAccount.Status.ACTIVE
        ).select_related("business"))
        for account in pages:
            flagged += account_mark_needs_reconnect(account=account, reason=DEAUTHORIZED_REASON)
        # Audited in each business the person belongs to (their pages' businesses included): counts only.
        businesses = {m.business for m in Membership.objects.filter(user__in=users).select_related("business")}
        businesses |= {account.business for account in pages}
        for business in businesses:
            audit_record(
                action="compliance.deauthorized", business=business, target_type="accounts.user",
                target_id=next(iter(users)), metadata={"login_tokens": tokens, "pages_to_reconnect": flagged},
            )
    return {"login_links": len(links), "login_tokens": tokens, "pages_to_reconnect": flagged}
