"""Staff actions on Meta's notices about a Page: dismissing a policy banner."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from social.models import SocialAccount

if TYPE_CHECKING:
    import uuid

    from accounts.models import Business

logger = logging.getLogger(__name__)


def account_policy_notice_dismiss(*, business: Business, account_public_id: uuid.UUID, user) -> bool:
    """Hide the policy banner of the business's account until Meta sends a newer enforcement.

    Returns False when the business has no such account. Dismissing changes nothing Meta decided:
    the enforcement stays recorded (the Pages screen still shows it).
    """
    # Meta's time of the enforcement dismissed (not now): Meta's clock decides what is newer.
    updated = (
        SocialAccount.objects.for_business(business)
        .filter(public_id=account_public_id)
        .update(policy_dismissed_at=Coalesce(F("policy_at"), Value(timezone.now(), output_field=DateTimeField())))
    )
    if updated:
        logger.info("User %s dismissed the policy notice of account %s", getattr(user, "pk", None), account_public_id)
    return bool(updated)
