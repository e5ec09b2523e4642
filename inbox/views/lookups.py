"""The objects an inbox URL names, found for the request's business: anyone else's is a 404.

URLs name conversations, messages and pages by their public UUID (the id the REST API and outbound
webhooks use too); integer keys stay inside the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from inbox import selectors
from inbox.models import Conversation
from social.models import SocialAccount

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest


def conversation_or_404(request: BusinessRequest, public_id: uuid.UUID) -> Conversation:
    try:
        return selectors.conversation_get(business=request.business, public_id=public_id)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None


def account_or_404(request: BusinessRequest, public_id: uuid.UUID) -> SocialAccount:
    """A page or Instagram account of the business, without its tokens (no view here sends with them)."""
    account = SocialAccount.objects.for_business(request.business).without_tokens().filter(public_id=public_id).first()
    if account is None:
        raise Http404("No such page.")
    return account
