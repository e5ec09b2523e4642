from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from accounts import services
from accounts.exceptions import AccountsError, RoleCeilingError
from accounts.models import AuditEvent, Membership, Team
from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_membership(business):
    return MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="ada@bakery.example")


@pytest.fixture
def team(business):
    return Team.objects.create(business=business, name="Support")


# --- services ---------------------------------------------------------------------------------------------


def test_create_rename_and_delete_are_audited(business, member):
    team = services.team_create(business=business, name="  Sales   team ", actor=member)
    assert team.name == "Sales team"
    services.team_rename(team=team, name="Sales", actor=member)
    team.refresh_from_db()
    assert team.name == "Sales"
    services.team_delete(team=team, actor=member)
    assert not Team.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="team.").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["team.created", "team.renamed", "team.deleted"]


def test_names_are_unique_per_business_whatever_the_case(business, other_business, member, other_member, team):
    with pytest.raises(AccountsError, match="already a team"):
        services.team_create(business=business, name="support", actor=member)
    other = services.team_create(business=business, name="Sales", actor=member)
    with pytest.raises(AccountsError, match="already a team"):
        services.team_rename(team=other, name="SUPPORT", actor=member)
    # Another business may use the same name.
    assert services.team_create(business=other_business, name="Support", actor=other_member).pk


def test_a_name_is_required_and_short(business, member):
    with pytest.raises(AccountsError):
        services.team_create(business=business, name="   ", actor=member)
    with pytest.raises(AccountsError):
        services.team_create(business=business, name="x" * 81, actor=member)


def test_an_agent_manages_no_team(business, agent_membership, team):
    with pytest.raises(RoleCeilingError):
        services.team_create(business=business, name="Mine", actor=agent_membership.user)
    with pytest.raises(RoleCeilingError):
        services.team_set_members(team=team, membership_ids=[agent_membership.pk], actor=agent_membership.user)


def test_members_are_set_exactly_and_only_from_the_business(business, other_business, member, agent_membership, team):
    owner = Membership.objects.get(business=business, user=member)
    services.team_set_members(team=team, membership_ids=[owner.pk, agent_membership.pk], actor=member)
    assert set(team.members.all()) == {owner, agent_membership}
    services.team_set_members(team=team, membership_ids=[agent_membership.pk], actor=member)
    assert list(team.members.all()) == [agent_membership]
    event = AuditEvent.objects.filter(action="team.members_changed").order_by("-id").first()
    assert event.metadata == {"added": [], "removed": [owner.pk]}
    foreign = MembershipFactory(business=other_business)
    with pytest.raises(AccountsError):
        services.team_set_members(team=team, membership_ids=[foreign.pk], actor=member)
    assert list(team.members.all()) == [agent_membership]


def test_deleting_a_team_keeps_the_conversations_and_pushes_them(business, member, team):
    from inbox.models import Conversation
    from inbox.tests.factories import ContactFactory, ConversationFactory
    from social.tests.factories import SocialAccountFactory

    page = SocialAccountFactory(business=business)
    conversation = ConversationFactory(contact=ContactFactory(account=page), team=team, assignee=member)
    with mock.patch("inbox.services.assignment.publish_on_commit") as publish:
        services.team_delete(team=team, actor=member)
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert conversation.team_id is None and conversation.assignee_id == member.pk
    publish.assert_called_once_with(business_id=business.pk, conversation_ids=[conversation.pk])


# --- views ------------------------------------------------------------------------------------------------


def test_the_team_page_lists_teams_and_their_members(client_member, business, agent_membership, team):
    team.members.add(agent_membership)
    html = client_member.get(reverse("accounts:team")).content.decode()
    assert 'id="teams"' in html and "#Support" in html
    assert f'name="members" value="{agent_membership.pk}" checked' in html
    assert reverse("accounts:team_create") in html


def test_an_agent_sees_teams_without_the_forms(client, agent_membership, team):
    team.members.add(agent_membership)
    client.force_login(agent_membership.user)
    html = client.get(reverse("accounts:team")).content.decode()
    assert "#Support" in html and "ada" in html
    assert reverse("accounts:team_create") not in html


def test_owner_creates_renames_sets_members_and_deletes(client_member, business, agent_membership):
    response = client_member.post(reverse("accounts:team_create"), {"name": "Billing"})
    assert response.status_code == 302 and response["Location"].endswith("#teams")
    team = Team.objects.get(business=business, name="Billing")
    client_member.post(reverse("accounts:team_rename", args=[team.pk]), {"name": "Invoices"})
    client_member.post(reverse("accounts:team_members", args=[team.pk]), {"members": [str(agent_membership.pk)]})
    team.refresh_from_db()
    assert team.name == "Invoices" and list(team.members.all()) == [agent_membership]
    client_member.post(reverse("accounts:team_delete", args=[team.pk]))  # no confirmation: kept
    assert Team.objects.filter(pk=team.pk).exists()
    client_member.post(reverse("accounts:team_delete", args=[team.pk]), {"confirm": "yes"})
    assert not Team.objects.filter(pk=team.pk).exists()


def test_bad_input_is_shown_not_saved(client_member, business, team):
    response = client_member.post(reverse("accounts:team_create"), {"name": "support"}, follow=True)
    assert "already a team" in response.content.decode()
    response = client_member.post(reverse("accounts:team_members", args=[team.pk]), {"members": ["x"]}, follow=True)
    assert "Pick members" in response.content.decode()
    assert Team.objects.filter(business=business).count() == 1


@pytest.mark.parametrize("name", ["accounts:team_rename", "accounts:team_delete", "accounts:team_members"])
def test_an_agent_gets_403(client, agent_membership, team, name):
    client.force_login(agent_membership.user)
    assert client.post(reverse(name, args=[team.pk]), {"name": "X", "confirm": "yes"}).status_code == 403
    assert client.post(reverse("accounts:team_create"), {"name": "X"}).status_code == 403
    team.refresh_from_db()
    assert team.name == "Support"


@pytest.mark.parametrize("name", ["accounts:team_rename", "accounts:team_delete", "accounts:team_members"])
def test_another_business_gets_404(client_other, team, name):
    assert client_other.post(reverse(name, args=[team.pk]), {"name": "X", "confirm": "yes"}).status_code == 404
    assert Team.objects.filter(pk=team.pk, name="Support").exists()


def test_removing_a_member_takes_them_out_of_teams(business, member, agent_membership, team):
    team.members.add(agent_membership)
    services.membership_remove(membership=agent_membership, removed_by=member)
    assert team.members.count() == 0


# --- assignment settings ----------------------------------------------------------------------------------


def test_owner_sets_the_assignment_settings(client_member, business):
    response = client_member.post(
        reverse("accounts:assignment_settings"), {"auto_assign_on_reply": "on", "assign_capacity": "5"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#assignment")
    business.refresh_from_db()
    assert business.auto_assign_on_reply is True and business.assign_capacity == 5
    event = AuditEvent.objects.get(action="business.assignment_settings_changed")
    assert event.metadata["to"] == {"auto_assign_on_reply": True, "assign_capacity": 5}
    html = client_member.get(reverse("accounts:business_settings")).content.decode()
    assert 'name="assign_capacity" type="number" min="0" max="1000" value="5"' in html
    assert 'name="auto_assign_on_reply" value="on" checked' in html


def test_assignment_settings_refuse_bad_input_and_agents(client, client_member, business, agent_membership):
    response = client_member.post(reverse("accounts:assignment_settings"), {"assign_capacity": "-1"}, follow=True)
    assert "Enter a limit" in response.content.decode()
    business.refresh_from_db()
    assert business.assign_capacity == 0
    client.force_login(agent_membership.user)
    assert client.post(reverse("accounts:assignment_settings"), {"assign_capacity": "3"}).status_code == 403
    business.refresh_from_db()
    assert business.assign_capacity == 0
