"""Role ceilings: owners manage everyone, admins manage agents and admins, agents nothing; one owner stays."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.exceptions import AccountsError, RoleCeilingError
from accounts.models import AuditEvent, Invitation, Membership
from accounts.tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(business, member):
    return Membership.objects.get(business=business, user=member)


@pytest.fixture
def admin(business):
    return MembershipFactory(business=business, role="admin", user__email="admin@bakery.example")


@pytest.fixture
def agent(business):
    return MembershipFactory(business=business, role="agent", user__email="agent@bakery.example")


def _role(membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


# --- services -------------------------------------------------------------------------------------------------


def test_an_admin_cannot_make_themselves_owner(admin):
    with pytest.raises(RoleCeilingError, match="owner"):
        services.membership_change_role(membership=admin, role="owner", changed_by=admin.user)
    assert _role(admin) == "admin"
    assert not AuditEvent.objects.filter(action="membership.role_changed").exists()


def test_an_admin_cannot_promote_an_agent_to_owner(admin, agent):
    with pytest.raises(RoleCeilingError):
        services.membership_change_role(membership=agent, role="owner", changed_by=admin.user)
    assert _role(agent) == "agent"


def test_an_admin_cannot_demote_or_remove_an_owner(business, owner, admin):
    MembershipFactory(business=business, role="owner")  # not the last owner: only the ceiling refuses
    with pytest.raises(RoleCeilingError):
        services.membership_change_role(membership=owner, role="agent", changed_by=admin.user)
    with pytest.raises(RoleCeilingError):
        services.membership_remove(membership=owner, removed_by=admin.user)
    assert _role(owner) == "owner"


def test_an_admin_manages_agents_and_admins(business, admin, agent):
    other_admin = MembershipFactory(business=business, role="admin")
    services.membership_change_role(membership=agent, role="admin", changed_by=admin.user)
    services.membership_change_role(membership=other_admin, role="agent", changed_by=admin.user)
    assert (_role(agent), _role(other_admin)) == ("admin", "agent")
    services.membership_remove(membership=other_admin, removed_by=admin.user)
    assert not Membership.objects.filter(pk=other_admin.pk).exists()


def test_an_owner_grants_and_removes_the_owner_role(business, owner, agent):
    services.membership_change_role(membership=agent, role="owner", changed_by=owner.user)
    assert _role(agent) == "owner"
    services.membership_change_role(membership=agent, role="admin", changed_by=owner.user)
    assert _role(agent) == "admin"
    second = MembershipFactory(business=business, role="owner")
    services.membership_remove(membership=second, removed_by=owner.user)
    assert not Membership.objects.filter(pk=second.pk).exists()


def test_the_last_owner_can_be_neither_demoted_nor_removed_even_by_themselves(owner):
    with pytest.raises(AccountsError, match="at least one owner"):
        services.membership_change_role(membership=owner, role="admin", changed_by=owner.user)
    with pytest.raises(AccountsError, match="at least one owner"):
        services.membership_remove(membership=owner, removed_by=owner.user)
    assert _role(owner) == "owner"


def test_an_agent_manages_nothing(agent, admin):
    with pytest.raises(RoleCeilingError):
        services.membership_change_role(membership=admin, role="agent", changed_by=agent.user)
    with pytest.raises(RoleCeilingError):
        services.membership_remove(membership=admin, removed_by=agent.user)
    with pytest.raises(RoleCeilingError):
        services.invitation_send(business=agent.business, email="x@example.com", role="agent", invited_by=agent.user)
    assert _role(admin) == "admin" and not Invitation.objects.exists()


def test_a_member_of_another_business_manages_nothing_here(agent, other_member):
    with pytest.raises(RoleCeilingError):
        services.membership_remove(membership=agent, removed_by=other_member)
    assert Membership.objects.filter(pk=agent.pk).exists()


def test_only_owners_invite_owners(business, owner, admin, mailoutbox):
    with pytest.raises(RoleCeilingError, match="owner"):
        services.invitation_send(business=business, email="boss@example.com", role="owner", invited_by=admin.user)
    assert not Invitation.objects.exists() and not mailoutbox
    services.invitation_send(business=business, email="helper@example.com", role="admin", invited_by=admin.user)
    services.invitation_send(business=business, email="boss@example.com", role="owner", invited_by=owner.user)
    assert set(Invitation.objects.values_list("email", "role")) == {
        ("helper@example.com", "admin"), ("boss@example.com", "owner")}


def test_an_admin_cannot_resend_revoke_or_downgrade_an_owner_invitation(business, admin):
    invitation = InvitationFactory(business=business, role="owner", email="boss@example.com")
    with pytest.raises(RoleCeilingError):
        services.invitation_resend(invitation=invitation, actor=admin.user)
    with pytest.raises(RoleCeilingError):
        services.invitation_revoke(invitation=invitation, actor=admin.user)
    with pytest.raises(RoleCeilingError):
        # Re-inviting the address would replace the owner invitation's role and link.
        services.invitation_send(business=business, email="boss@example.com", role="agent", invited_by=admin.user)
    invitation.refresh_from_db()
    assert invitation.is_usable and invitation.role == "owner"
    assert invitation.token_hash == Invitation.hash_token(invitation.token)  # the link still works


# --- the team page --------------------------------------------------------------------------------------------


def _client(client, membership):
    client.force_login(membership.user)
    return client


def test_the_team_page_offers_an_admin_nothing_over_owners(client, business, owner, admin, agent):
    html = _client(client, admin).get(reverse("accounts:team")).content.decode()
    # The owner's row: no role form and no remove button; agents' rows: both, without the owner option.
    assert reverse("accounts:member_role", args=[owner.pk]) not in html
    assert reverse("accounts:member_remove", args=[owner.pk]) not in html
    assert reverse("accounts:member_role", args=[agent.pk]) in html
    assert reverse("accounts:member_remove", args=[agent.pk]) in html
    assert 'value="owner"' not in html  # neither in role selects nor in the invitation form


def test_the_team_page_offers_an_owner_everything(client, business, owner, admin):
    html = _client(client, owner).get(reverse("accounts:team")).content.decode()
    assert reverse("accounts:member_role", args=[admin.pk]) in html
    assert reverse("accounts:member_remove", args=[admin.pk]) in html
    assert 'value="owner"' in html


def test_the_team_page_offers_an_agent_nothing(client, agent, admin):
    html = _client(client, agent).get(reverse("accounts:team")).content.decode()
    assert "member_role" not in html and "/remove/" not in html and "/role/" not in html
    assert reverse("accounts:invitation_create") not in html


def test_an_admin_posting_an_owner_change_is_refused_with_a_message(client, business, owner, admin, agent):
    response = _client(client, admin).post(reverse("accounts:member_role", args=[admin.pk]), {"role": "owner"},
                                           follow=True)
    assert "Only an owner" in response.content.decode()
    assert _role(admin) == "admin"
    response = client.post(reverse("accounts:member_remove", args=[owner.pk]), {"confirm": "yes"}, follow=True)
    assert "Only an owner" in response.content.decode()
    assert _role(owner) == "owner"
