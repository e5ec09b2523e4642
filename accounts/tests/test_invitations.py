"""Invitations: nobody joins a business until the owner of the invited address accepts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.exceptions import AccountsError, InvitationGone
from accounts.models import AuditEvent, Invitation, Membership
from accounts.tests.factories import InvitationFactory, MembershipFactory, UserFactory
from accounts.views import INVITATION_SESSION_KEY

pytestmark = pytest.mark.django_db

SITE = "https://inbox.bakery.test"
LINK = re.compile(re.escape(SITE) + r"/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def _token_from(message) -> str:
    found = LINK.findall(message.body)
    assert found, message.body
    return found[0]


def _invite(business, member, email="giulia@bakery.test", role="agent"):
    return services.invitation_send(business=business, email=email, role=role, invited_by=member).invitation


# --- sending --------------------------------------------------------------------------------------------------


def test_the_invitation_email_is_branded_and_carries_a_single_link(business, member, mailoutbox):
    member.name = "Marco Rossi"
    member.save()
    invitation = _invite(business, member, email=" Giulia@Bakery.TEST ", role="admin")
    assert invitation.email == "giulia@bakery.test"
    [message] = mailoutbox
    assert message.to == ["giulia@bakery.test"]
    assert message.subject == "Marco Rossi invited you to join Bakery Rossi on Social Inbox"
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Social Inbox" in body and "Bakery Rossi" in body and "Marco Rossi" in body
        assert "Admin" in body and "owner@bakery.example" in body
        assert "example.com" not in body and "Password Reset" not in body and "password reset" not in body.lower()
    token = _token_from(message)
    assert f"{SITE}/invitations/{token}/" in html
    # Only the hash is stored: the database alone cannot accept the invitation.
    assert invitation.token_hash == Invitation.hash_token(token) and token not in invitation.token_hash
    assert abs(invitation.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="invitation.sent")
    assert event.actor == member and event.business == business
    assert event.metadata == {"email": "giulia@bakery.test", "role": "admin"}


def test_the_expiry_comes_from_the_setting(business, member, settings):
    settings.ACCOUNTS_INVITATION_TTL = 3600
    invitation = _invite(business, member)
    assert abs(invitation.expires_at - (timezone.now() + timedelta(hours=1))) < timedelta(minutes=1)


def test_inviting_grants_nothing_and_creates_no_account(business, member, other_member, mailoutbox):
    _invite(business, member, email="nobody-yet@bakery.test")
    _invite(business, member, email=other_member.email)
    assert not get_user_model().objects.filter(email="nobody-yet@bakery.test").exists()
    assert not Membership.objects.filter(business=business, user=other_member).exists()
    assert len(mailoutbox) == 2


def test_inviting_a_member_is_refused(business, member, mailoutbox):
    with pytest.raises(AccountsError, match="already a member"):
        _invite(business, member, email=member.email.upper())
    assert not Invitation.objects.exists() and not mailoutbox


@pytest.mark.parametrize("email", ["not-an-address", "", "a@b"])
def test_inviting_an_invalid_address_is_refused(business, member, email):
    with pytest.raises(AccountsError):
        _invite(business, member, email=email)
    assert not Invitation.objects.exists()


def test_inviting_a_pending_address_again_resends_with_a_new_link(client, business, member, mailoutbox):
    first = _invite(business, member, role="agent")
    old_token = _token_from(mailoutbox[0])
    sent = services.invitation_send(business=business, email="giulia@bakery.test", role="admin", invited_by=member)
    assert sent.resent and sent.invitation.pk == first.pk and Invitation.objects.count() == 1
    assert sent.invitation.role == "admin"
    new_token = _token_from(mailoutbox[1])
    assert new_token != old_token
    assert client.get(reverse("accounts:invitation_open", args=[old_token])).status_code == 404
    assert client.get(reverse("accounts:invitation_open", args=[new_token])).status_code == 302
    event = AuditEvent.objects.get(action="invitation.resent")
    assert event.metadata == {"email": "giulia@bakery.test", "role": "admin", "previous_role": "agent"}


def test_one_open_invitation_per_address_and_business(business, member, other_business):
    with transaction.atomic(), pytest.raises(IntegrityError):
        InvitationFactory.create_batch(2, business=business, email="giulia@bakery.test")
    InvitationFactory(business=other_business, email="giulia@bakery.test")  # another business: its own
    revoked = services.invitation_revoke(invitation=_invite(business, member), actor=member)
    fresh = _invite(business, member)  # after a revoke, inviting again starts a new invitation
    assert fresh.pk != revoked.pk and AuditEvent.objects.filter(action="invitation.sent").count() == 2


def test_resend_gives_a_new_link_and_expiry_and_kills_the_old_one(client, business, member, mailoutbox):
    invitation = InvitationFactory(business=business, expires_at=timezone.now() - timedelta(days=1))
    assert client.get(reverse("accounts:invitation_open", args=[invitation.token])).status_code == 410
    services.invitation_resend(invitation=invitation, actor=member)
    invitation.refresh_from_db()
    assert invitation.is_usable and invitation.expires_at > timezone.now() + timedelta(days=6)
    assert client.get(reverse("accounts:invitation_open", args=[invitation.token])).status_code == 404
    assert client.get(reverse("accounts:invitation_open", args=[_token_from(mailoutbox[0])])).status_code == 302
    assert AuditEvent.objects.filter(action="invitation.resent", actor=member).exists()


def test_revoke_kills_the_link_and_is_audited(client, business, member):
    invitation = InvitationFactory(business=business)
    services.invitation_revoke(invitation=invitation, actor=member)
    response = client.get(reverse("accounts:invitation_open", args=[invitation.token]))
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert AuditEvent.objects.filter(action="invitation.revoked", actor=member).exists()
    with pytest.raises(AccountsError, match="revoked"):
        services.invitation_resend(invitation=invitation, actor=member)
    with pytest.raises(AccountsError, match="revoked"):
        services.invitation_revoke(invitation=invitation, actor=member)


def test_a_failed_email_leaves_a_pending_invitation_to_resend(business, member, monkeypatch):
    def broken(**kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(services, "invitation_email_send", broken)
    with pytest.raises(AccountsError, match="could not be sent"):
        _invite(business, member)
    assert Invitation.objects.get().is_usable


# --- accepting (services) ---------------------------------------------------------------------------------


def test_an_existing_verified_user_accepts_once(business, member, other_member):
    invitation = InvitationFactory(business=business, email=other_member.email, role="admin", invited_by=member)
    membership = services.invitation_accept(invitation=invitation, user=other_member)
    assert (membership.business, membership.user, membership.role) == (business, other_member, "admin")
    invitation.refresh_from_db()
    assert invitation.accepted_by == other_member and invitation.state == "accepted"
    assert AuditEvent.objects.get(action="invitation.accepted").metadata["new_user"] is False
    with pytest.raises(InvitationGone, match="already used"):
        services.invitation_accept(invitation=invitation, user=other_member)


def test_accepting_needs_the_invited_address_verified(business):
    user = UserFactory(email="giulia@bakery.test", email_verified=False)
    invitation = InvitationFactory(business=business, email=user.email)
    with pytest.raises(AccountsError, match="verified"):
        services.invitation_accept(invitation=invitation, user=user)
    stranger = UserFactory(email="someone-else@bakery.test")
    with pytest.raises(AccountsError, match="verified"):
        services.invitation_accept(invitation=invitation, user=stranger)
    assert not Membership.objects.filter(business=business).exclude(role="owner").exists()
    assert Invitation.objects.get().is_usable


def test_an_expired_invitation_cannot_be_accepted(business, other_member):
    invitation = InvitationFactory(business=business, email=other_member.email,
                                   expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvitationGone, match="expired"):
        services.invitation_accept(invitation=invitation, user=other_member)
    assert not Membership.objects.filter(business=business, user=other_member).exists()


def test_a_new_user_accepting_gets_a_verified_account(business):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    membership = services.invitation_accept_new_user(invitation=invitation, password="a-long-passphrase-42",
                                                     name="Giulia")
    user = membership.user
    assert user.email == "giulia@bakery.test" and user.check_password("a-long-passphrase-42")
    assert EmailAddress.objects.filter(user=user, email="giulia@bakery.test", verified=True, primary=True).exists()
    assert AuditEvent.objects.get(action="invitation.accepted").metadata["new_user"] is True


def test_a_new_user_accept_refuses_when_the_address_has_an_account(business, other_member):
    invitation = InvitationFactory(business=business, email=other_member.email)
    with pytest.raises(AccountsError, match="sign in"):
        services.invitation_accept_new_user(invitation=invitation, password="a-long-passphrase-42")
    assert not other_member.check_password("a-long-passphrase-42")


# --- the team page ----------------------------------------------------------------------------------------


def test_the_old_direct_add_url_is_gone(client_member):
    assert client_member.post("/team/add/", {"email": "x@bakery.test", "role": "agent"}).status_code == 404


def test_owner_invites_from_the_team_page_and_sees_it_pending(client_member, business, other_member, mailoutbox):
    response = client_member.post(reverse("accounts:invitation_create"),
                                  {"email": other_member.email, "role": "agent"}, follow=True)
    html = response.content.decode()
    assert "Invitation sent to owner@other.example" in html
    invitation = Invitation.objects.get()
    assert f'id="invitation-{invitation.pk}"' in html
    assert reverse("accounts:invitation_resend", args=[invitation.pk]) in html
    assert reverse("accounts:invitation_revoke", args=[invitation.pk]) in html
    # Nothing granted yet: the other business's owner is not on this team.
    assert not Membership.objects.filter(business=business, user=other_member).exists()
    assert len(mailoutbox) == 1


def test_inviting_a_member_from_the_team_page_says_so(client_member, member, mailoutbox):
    response = client_member.post(reverse("accounts:invitation_create"), {"email": member.email, "role": "agent"},
                                  follow=True)
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists() and not mailoutbox


def test_resend_and_revoke_from_the_team_page(client_member, business, mailoutbox):
    invitation = InvitationFactory(business=business)
    response = client_member.post(reverse("accounts:invitation_resend", args=[invitation.pk]), follow=True)
    assert "new link was sent" in response.content.decode() and len(mailoutbox) == 1
    response = client_member.post(reverse("accounts:invitation_revoke", args=[invitation.pk]), follow=True)
    assert "withdrawn" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == "revoked"
    assert f'id="invitation-{invitation.pk}"' not in response.content.decode()


def test_another_business_cannot_resend_or_revoke_our_invitations(client_other, business, mailoutbox):
    invitation = InvitationFactory(business=business)
    for name in ("accounts:invitation_resend", "accounts:invitation_revoke"):
        assert client_other.post(reverse(name, args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.is_usable and invitation.token_hash == Invitation.hash_token(invitation.token)
    assert not mailoutbox and not AuditEvent.objects.filter(action__startswith="invitation.").exists()


def test_an_agent_cannot_invite_resend_or_revoke(client, business):
    agent = MembershipFactory(business=business, role="agent")
    invitation = InvitationFactory(business=business)
    client.force_login(agent.user)
    assert client.post(reverse("accounts:invitation_create"), {"email": "x@bakery.test", "role": "agent"}).status_code == 403
    assert client.post(reverse("accounts:invitation_resend", args=[invitation.pk])).status_code == 403
    assert client.post(reverse("accounts:invitation_revoke", args=[invitation.pk])).status_code == 403
    assert Invitation.objects.get().is_usable and Invitation.objects.count() == 1


# --- accepting (the link) ---------------------------------------------------------------------------------


def _open(client, invitation):
    response = client.get(reverse("accounts:invitation_open", args=[invitation.token]))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:invitation_accept")
    # The token leaves the URL at once: no later page, redirect or log line carries it.
    assert invitation.token not in response["Location"]
    return client.get(response["Location"])


def test_a_new_person_sets_a_password_joins_and_is_signed_in(client, business, member):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test", role="admin", invited_by=member)
    page = _open(client, invitation)
    html = page.content.decode()
    assert page.status_code == 200 and "Bakery Rossi" in html and "giulia@bakery.test" in html and "Admin" in html
    response = client.post(reverse("accounts:invitation_accept"), {
        "name": "Giulia", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"})
    assert response.status_code == 302 and response["Location"] == reverse("inbox:conversation_list")
    user = get_user_model().objects.get(email="giulia@bakery.test")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert INVITATION_SESSION_KEY not in client.session
    assert Membership.objects.get(business=business, user=user).role == "admin"
    assert client.get(reverse("accounts:team")).status_code == 200
    # Mandatory verification lets them sign in later: the link proved the address.
    client.post(reverse("account_logout"))
    response = client.post(reverse("account_login"), {"login": "giulia@bakery.test", "password": "a-long-passphrase-42"})
    assert response.status_code == 302 and response["Location"] == reverse("inbox:conversation_list")


def test_a_weak_or_mismatched_password_grants_nothing(client, business):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    _open(client, invitation)
    for p1, p2 in (("a-long-passphrase-42", "another-passphrase-42"), ("12345678", "12345678")):
        response = client.post(reverse("accounts:invitation_accept"), {"password1": p1, "password2": p2})
        assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not get_user_model().objects.filter(email="giulia@bakery.test").exists()
    assert Invitation.objects.get().is_usable


def test_an_existing_user_not_signed_in_is_sent_to_sign_in_and_back(client, business, other_member):
    invitation = InvitationFactory(business=business, email=other_member.email, role="agent")
    response = _open(client, invitation)
    login_url = f"{reverse('account_login')}?next=%2Finvitations%2Faccept%2F"
    assert response.status_code == 302 and response["Location"] == login_url
    assert not Membership.objects.filter(business=business, user=other_member).exists()
    response = client.post(login_url, {"login": other_member.email, "password": "correct horse battery staple",
                                       "next": reverse("accounts:invitation_accept")})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:invitation_accept")
    page = client.get(reverse("accounts:invitation_accept"))
    assert page.status_code == 200 and "Accept and join Bakery Rossi" in page.content.decode()
    assert not Membership.objects.filter(business=business, user=other_member).exists()  # not before Accept
    response = client.post(reverse("accounts:invitation_accept"))
    assert response.status_code == 302
    assert Membership.objects.get(business=business, user=other_member).role == "agent"
    # Their current business is now the one they joined.
    assert "Team of Bakery Rossi" in client.get(reverse("accounts:team")).content.decode()


def test_an_address_verified_on_another_account_signs_in_instead_of_making_a_second_account(client, business):
    owner_of_address = UserFactory(email="marco@bakery.test")
    EmailAddress.objects.create(user=owner_of_address, email="orders@bakery.test", verified=True, primary=False)
    invitation = InvitationFactory(business=business, email="orders@bakery.test")
    response = _open(client, invitation)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    with pytest.raises(AccountsError, match="already exists"):
        services.invitation_accept_new_user(invitation=invitation, password="a-long-passphrase-42")
    client.force_login(owner_of_address)
    assert client.post(reverse("accounts:invitation_accept")).status_code == 302
    assert Membership.objects.filter(business=business, user=owner_of_address).exists()


def test_a_link_opened_by_the_wrong_signed_in_user_grants_nothing(client, business, other_member):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    client.force_login(other_member)
    page = _open(client, invitation)
    html = page.content.decode()
    assert page.status_code == 403
    assert "signed in as owner@other.example" in html and "sent to giulia@bakery.test" in html
    # A way out: log out and come back to the same invitation.
    assert reverse("account_logout") in html and reverse("accounts:invitation_open", args=[invitation.token]) in html
    assert client.post(reverse("accounts:invitation_accept")).status_code == 403
    assert not Membership.objects.filter(business=business, user=other_member).exists()
    assert Invitation.objects.get().is_usable


def test_log_out_and_continue_reopens_the_invitation(client, business, other_member):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    client.force_login(other_member)
    _open(client, invitation)
    reopen = reverse("accounts:invitation_open", args=[invitation.token])
    response = client.post(reverse("account_logout"), {"next": reopen})
    assert response.status_code == 302 and response["Location"] == reopen
    assert "_auth_user_id" not in client.session
    page = _open(client, invitation)
    assert page.status_code == 200 and 'name="password1"' in page.content.decode()


def test_the_invited_user_with_an_unverified_address_is_refused(client, business):
    user = UserFactory(email="giulia@bakery.test", email_verified=False)
    invitation = InvitationFactory(business=business, email=user.email)
    client.force_login(user)
    page = _open(client, invitation)
    assert page.status_code == 403 and "not verified" in page.content.decode()
    assert client.post(reverse("accounts:invitation_accept")).status_code == 403
    assert not Membership.objects.filter(business=business, user=user).exists()


def test_a_used_link_is_gone(client, business, other_member):
    invitation = InvitationFactory(business=business, email=other_member.email)
    services.invitation_accept(invitation=invitation, user=other_member)
    response = client.get(reverse("accounts:invitation_open", args=[invitation.token]))
    assert response.status_code == 410 and "already used" in response.content.decode()


def test_an_expired_link_is_gone(client, business):
    invitation = InvitationFactory(business=business, expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(reverse("accounts:invitation_open", args=[invitation.token]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert INVITATION_SESSION_KEY not in client.session


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "test-invitation-token-9999-abcdefghijklmnopqrstuvwxyz"])
def test_an_unknown_link_is_a_404(client, business, token):
    InvitationFactory(business=business)
    response = client.get(reverse("accounts:invitation_open", args=[token]))
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_a_link_revoked_after_it_was_opened_grants_nothing(client, business, member):
    invitation = InvitationFactory(business=business, email="giulia@bakery.test")
    _open(client, invitation)
    services.invitation_revoke(invitation=invitation, actor=member)
    response = client.post(reverse("accounts:invitation_accept"), {
        "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"})
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert not get_user_model().objects.filter(email="giulia@bakery.test").exists()


def test_the_accept_page_without_an_opened_link_is_a_404(client, member):
    assert client.get(reverse("accounts:invitation_accept")).status_code == 404
    client.force_login(member)
    assert client.post(reverse("accounts:invitation_accept")).status_code == 404
