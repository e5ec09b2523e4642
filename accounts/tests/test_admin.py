from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_operators_see_invitations_but_never_the_token_hash(client, business):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:accounts_invitation_changelist"))
    assert listing.status_code == 200 and "giulia@bakery.test" in listing.content.decode()
    detail = client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))
    assert detail.status_code == 200
    assert invitation.token_hash not in detail.content.decode() and invitation.token not in detail.content.decode()
    # Read-only: a revoke or resend goes through the team page, which audits it.
    client.post(reverse("admin:accounts_invitation_change", args=[invitation.pk]), {"role": "owner"})
    invitation.refresh_from_db()
    assert invitation.role == "agent"
