from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Team
from accounts.services import membership_remove
from accounts.tests.factories import MembershipFactory, UserFactory
from inbox.ingest.conversations import conversations_get_or_create
from inbox.models import Conversation, Notification
from inbox.realtime import render_live
from inbox.selectors import ConversationFilters, conversation_list, inbox_counters
from inbox.services import assignment
from inbox.services.replies import reply_send
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, role=Membership.Role.AGENT, user__email="ada@bakery.example", user__name="Ada Lovelace"
    ).user


@pytest.fixture
def conversation(page):
    return ConversationFactory(
        contact=ContactFactory(account=page, name="Giulia Bianchi"), last_inbound_at=timezone.now() - timedelta(hours=1)
    )


@pytest.fixture
def team(business):
    return Team.objects.create(business=business, name="Support")


@pytest.fixture
def published():
    with mock.patch("inbox.services.assignment.publish_on_commit") as publish:
        yield publish


def _assign_url(conversation) -> str:
    return reverse("inbox:conversation_assign", args=[conversation.public_id])


# --- the service ------------------------------------------------------------------------------------------


def test_assign_sets_audits_notifies_and_pushes(conversation, member, agent, published):
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=agent)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk
    event = AuditEvent.objects.get(action="conversation.assigned")
    assert event.actor == member and event.target_id == str(conversation.pk)
    assert event.metadata["from"] is None and event.metadata["to"] == agent.pk
    note = Notification.objects.get(recipient=agent)
    assert note.kind == "assigned" and note.conversation == conversation and note.actor == member
    assert "Giulia Bianchi" in note.text
    published.assert_called_once_with(business_id=conversation.business_id, conversation_ids=[conversation.pk])


def test_reassign_and_unassign(conversation, member, agent, published):
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=agent)
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=member)
    conversation.refresh_from_db()
    assert conversation.assignee_id == member.pk
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=None)
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "metadata"))
    assert [a for a, _ in actions] == ["conversation.assigned", "conversation.assigned", "conversation.unassigned"]
    assert actions[1][1]["from"] == agent.pk and actions[2][1]["from"] == member.pk
    # Assigning oneself notifies nobody; the agent was told once.
    assert Notification.objects.count() == 1
    assert published.call_count == 3


def test_assigning_the_same_again_changes_nothing(conversation, member, agent, published):
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=agent)
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=agent)
    assert AuditEvent.objects.filter(action="conversation.assigned").count() == 1
    assert Notification.objects.count() == 1
    assert published.call_count == 1


def test_a_non_member_is_refused(conversation, member, other_member, published):
    with pytest.raises(assignment.AssignmentError, match="Only members"):
        assignment.conversation_assign(conversation=conversation, actor=member, assignee=other_member)
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    assert not AuditEvent.objects.filter(action__startswith="conversation.").exists()
    published.assert_not_called()


def test_another_business_team_is_refused(conversation, member, other_business):
    foreign = Team.objects.create(business=other_business, name="Theirs")
    with pytest.raises(assignment.AssignmentError):
        assignment.conversation_assign(conversation=conversation, actor=member, team=foreign)


def test_team_is_set_without_touching_the_assignee(conversation, member, agent, team, published):
    assignment.conversation_assign(conversation=conversation, actor=member, assignee=agent)
    assignment.conversation_assign(conversation=conversation, actor=member, team=team)
    conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.team_id) == (agent.pk, team.pk)


def test_many_conversations_in_one_call(page, business, member, agent, published):
    rows = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(3)]
    changed = assignment.conversations_assign(business=business, conversations=rows, actor=member, assignee=agent)
    assert sorted(changed) == sorted(c.pk for c in rows)
    assert Conversation.objects.filter(assignee=agent).count() == 3
    published.assert_called_once()


# --- the views --------------------------------------------------------------------------------------------


def test_assign_view_answers_htmx_with_the_live_fragments(client_member, conversation, agent):
    response = client_member.post(_assign_url(conversation), {"assignee": str(agent.pk)}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-assignee="{agent.pk}"' in html
    assert "Ada Lovelace" in html  # the header's assignee, the row's avatar title
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk


def test_assign_to_me_and_unassign(client_member, conversation, member):
    client_member.post(_assign_url(conversation), {"assignee": "me"})
    conversation.refresh_from_db()
    assert conversation.assignee_id == member.pk
    response = client_member.post(_assign_url(conversation), {"assignee": "none"})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_the_type_ahead_text_names_a_member(client_member, conversation, agent, team):
    client_member.post(
        _assign_url(conversation), {"assignee_name": "Ada Lovelace <ada@bakery.example>", "team": str(team.pk)}
    )
    conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.team_id) == (agent.pk, team.pk)


def test_assign_view_refuses_a_non_member(client_member, conversation, other_member):
    response = client_member.post(_assign_url(conversation), {"assignee": str(other_member.pk)}, **HTMX)
    assert response.status_code == 400
    assert "member" in response.content.decode()
    response = client_member.post(_assign_url(conversation), {"assignee_name": "owner@other.example"}, **HTMX)
    assert response.status_code == 400
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_assign_view_refuses_bad_input_and_another_business_team(client_member, conversation, other_business):
    foreign = Team.objects.create(business=other_business, name="Theirs")
    assert client_member.post(_assign_url(conversation), {"assignee": "boss"}, **HTMX).status_code == 400
    assert client_member.post(_assign_url(conversation), {"team": str(foreign.pk)}, **HTMX).status_code == 400
    conversation.refresh_from_db()
    assert conversation.team_id is None


def test_another_business_gets_404(client_other, conversation, other_member):
    assert client_other.post(_assign_url(conversation), {"assignee": "me"}).status_code == 404
    assert client_other.get(reverse("inbox:assignee_picker", args=[conversation.public_id]), **HTMX).status_code == 404
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_the_picker_lists_members_and_teams(client_member, conversation, agent, team, other_member):
    response = client_member.get(reverse("inbox:assignee_picker", args=[conversation.public_id]), **HTMX)
    html = response.content.decode()
    assert "ada@bakery.example" in html and "Support" in html
    assert "owner@other.example" not in html
    assert "<datalist" in html and "<html" not in html


def test_an_agent_may_assign(client, conversation, agent, member):
    client.force_login(agent)
    response = client.post(_assign_url(conversation), {"assignee": str(member.pk)})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee_id == member.pk


# --- views of the list and counts -------------------------------------------------------------------------


@pytest.fixture
def spread(page, member, agent, team):
    """One conversation of each kind: mine, the agent's, unassigned, the team's (unassigned), a resolved mine."""
    make = lambda name, **kw: ConversationFactory(contact=ContactFactory(account=page, name=name), **kw)  # noqa: E731
    return {
        "mine": make("Mine", assignee=member),
        "theirs": make("Theirs", assignee=agent),
        "nobody": make("Nobody"),
        "team": make("Team", team=team),
        "closed": make("Closed", assignee=member, status="resolved"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"assignee": "me"}, {"Mine"}),
        ({"assignee": "none"}, {"Nobody", "Team"}),
        ({}, {"Mine", "Theirs", "Nobody", "Team"}),
        ({"assignee": "bogus"}, {"Mine", "Theirs", "Nobody", "Team"}),
    ],
)
def test_list_views_by_assignee(client_member, spread, query, expected):
    response = client_member.get(reverse("inbox:conversation_list"), query)
    assert {c.contact.name for c in response.context["page"].conversations} == expected


def test_list_view_by_team(client_member, spread, team):
    response = client_member.get(reverse("inbox:conversation_list"), {"team": team.pk})
    assert [c.contact.name for c in response.context["page"].conversations] == ["Team"]
    html = response.content.decode()
    assert f'data-team="{team.pk}"' in html and '#</span><span class="filter-label">Support' in html


def test_counters_count_open_conversations_per_member_unassigned_and_team(business, spread, member, agent, team):
    counters = inbox_counters(business=business)
    assert counters.assigned_to(member.pk) == 1  # the resolved one is not counted
    assert counters.assigned_to(agent.pk) == 1
    assert counters.unassigned == 2
    assert [(t.name, t.open_conversations) for t in counters.teams] == [("Support", 1)]
    assert f"{member.pk}:1" in counters.assigned_attr


def test_counters_are_one_more_query_and_capped(business, page, member, django_assert_num_queries):
    from inbox.selectors import UNREAD_COUNT_CAP

    Conversation.objects.bulk_create(
        [
            Conversation(
                business=business,
                platform=page.platform,
                account=page,
                contact=ContactFactory(account=page),
                assignee=member,
            )
            for _ in range(UNREAD_COUNT_CAP + 3)
        ]
    )
    with django_assert_num_queries(2):  # the pages' unread counts, and the assignment counts
        counters = inbox_counters(business=business)
    assert counters.assigned_to(member.pk) == UNREAD_COUNT_CAP


def test_list_shows_the_mine_count_and_the_row_avatar(client_member, spread, member):
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    badge = re.search(r'<span id="assigned-mine-count"[^>]*>([^<]*)</span>', html)
    assert badge and badge.group(1) == "1"
    assert 'class="avatar assignee-avatar' in html
    assert f'data-user="{member.pk}"' in html


def test_the_pushed_counters_carry_every_member_count(business, spread, member, agent):
    html = render_live(business_id=business.pk, conversation_ids=[spread["mine"].pk])
    assert 'data-by-user="' in html
    assert f"{member.pk}:1" in html and f"{agent.pk}:1" in html
    assert 'id="unassigned-count"' in html and 'id="team-count-' in html


def test_selector_filters(business, spread, member):
    mine = conversation_list(business=business, filters=ConversationFilters(assignee="me", user_id=member.pk))
    assert [c.contact.name for c in mine.conversations] == ["Mine"]


def test_list_and_detail_query_counts_stay_flat(
    client_member, page, member, agent, team, django_assert_max_num_queries
):
    def make(n):
        return [
            ConversationFactory(
                contact=ContactFactory(account=page), assignee=agent if i % 2 else member, team=team if i % 3 else None
            )
            for i in range(n)
        ]

    make(3)
    url = reverse("inbox:conversation_list")
    with CaptureQueriesContext(connection) as few:
        client_member.get(url)
    rows = make(30)
    with django_assert_max_num_queries(len(few)):
        client_member.get(url)
    detail = reverse("inbox:conversation_detail", args=[rows[0].public_id])
    with CaptureQueriesContext(connection) as one:
        client_member.get(detail)
    make(10)
    with django_assert_max_num_queries(len(one)):
        client_member.get(detail)


# --- automatic assignment ---------------------------------------------------------------------------------


def test_first_reply_assigns_the_replier_when_the_business_asks(
    business, conversation, agent, member, django_capture_on_commit_callbacks
):
    business.auto_assign_on_reply = True
    business.save()
    conversation.refresh_from_db()
    with mock.patch("inbox.tasks.message_send.apply_async"), django_capture_on_commit_callbacks(execute=True):
        reply_send(conversation=conversation, user=agent, text="Hello!")
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk
    assert AuditEvent.objects.get(action="conversation.assigned").metadata["auto"] == "first_reply"
    # A later reply by someone else does not take it over.
    with mock.patch("inbox.tasks.message_send.apply_async"), django_capture_on_commit_callbacks(execute=True):
        reply_send(conversation=Conversation.objects.get(pk=conversation.pk), user=member, text="Me too")
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk


def test_first_reply_assigns_nobody_by_default(conversation, agent, django_capture_on_commit_callbacks):
    with mock.patch("inbox.tasks.message_send.apply_async"), django_capture_on_commit_callbacks(execute=True):
        reply_send(conversation=conversation, user=agent, text="Hello!")
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def _online_agent(business, email, *, seen=timedelta(minutes=1)):
    membership = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email=email)
    Membership.objects.filter(pk=membership.pk).update(last_seen_at=timezone.now() - seen)
    return membership.user


def test_new_conversations_of_an_auto_assign_page_go_round_robin(business, page, published):
    page.auto_assign = True
    page.save()
    a = _online_agent(business, "a@bakery.example")
    b = _online_agent(business, "b@bakery.example")
    _online_agent(business, "away@bakery.example", seen=timedelta(hours=2))  # not online
    MembershipFactory(business=business, role=Membership.Role.ADMIN)  # not an agent
    now = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        found = conversations_get_or_create(account=page, first_seen={f"psid-{i}": now for i in range(4)})
    assigned = sorted(c.assignee_id for c in found.values())
    assert assigned == sorted([a.pk, a.pk, b.pk, b.pk])
    # Two queries (the agents with their load, the UPDATE) and one audit insert, for the whole batch.
    sql = [q["sql"] for q in ctx.captured_queries if "conversations" in q["sql"] or "audit" in q["sql"].lower()]
    assert sum(1 for s in sql if s.startswith("UPDATE")) == 1
    assert AuditEvent.objects.filter(action="conversation.assigned", metadata__auto="round_robin").count() == 4


def test_round_robin_respects_capacity_and_load(business, page, member, published):
    business.assign_capacity = 2
    business.save()
    page.auto_assign = True
    page.save()
    busy = _online_agent(business, "busy@bakery.example")
    free = _online_agent(business, "free@bakery.example")
    ConversationFactory(contact=ContactFactory(account=page), assignee=busy)
    ConversationFactory(contact=ContactFactory(account=page), assignee=busy)
    new = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(3)]
    page.refresh_from_db()
    plan = assignment.conversations_auto_assign(account=page, conversation_ids=[c.pk for c in new])
    assert list(plan.values()) == [free.pk, free.pk]  # busy is full; free fills up to 2
    assert Conversation.objects.get(pk=new[2].pk).assignee_id is None


def test_a_page_without_auto_assign_assigns_nobody(business, page):
    _online_agent(business, "a@bakery.example")
    found = conversations_get_or_create(account=page, first_seen={"psid-1": timezone.now()})
    assert [c.assignee_id for c in found.values()] == [None]


# --- member removal ---------------------------------------------------------------------------------------


def test_removing_a_member_unassigns_their_conversations(
    business, page, member, agent, team, django_capture_on_commit_callbacks
):
    held = [ConversationFactory(contact=ContactFactory(account=page), assignee=agent) for _ in range(2)]
    kept = ConversationFactory(contact=ContactFactory(account=page), assignee=member)
    team.members.add(Membership.objects.get(user=agent, business=business))
    with mock.patch("inbox.services.assignment.publish_on_commit") as publish:
        membership_remove(membership=Membership.objects.get(user=agent, business=business), removed_by=member)
    assert Conversation.objects.filter(pk__in=[c.pk for c in held], assignee__isnull=True).count() == 2
    assert Conversation.objects.get(pk=kept.pk).assignee_id == member.pk
    publish.assert_called_once()
    assert sorted(publish.call_args.kwargs["conversation_ids"]) == sorted(c.pk for c in held)
    assert team.members.count() == 0


def test_another_business_membership_removal_leaves_ours_alone(business, other_business, page, member):
    user = UserFactory()
    MembershipFactory(business=business, user=user, role=Membership.Role.AGENT)
    theirs = MembershipFactory(business=other_business, user=user, role=Membership.Role.AGENT)
    ours = ConversationFactory(contact=ContactFactory(account=page), assignee=user)
    theirs.delete()
    assert Conversation.objects.get(pk=ours.pk).assignee_id == user.pk


def test_owner_turns_auto_assign_on_for_a_page(client_member, page, client):
    url = reverse("social:account_auto_assign", args=[page.public_id])
    assert client_member.post(url, {"enabled": "on"}).status_code == 302
    page.refresh_from_db()
    assert page.auto_assign is True
    assert AuditEvent.objects.filter(action="social.account.auto_assign").count() == 1
    client_member.post(url, {})
    page.refresh_from_db()
    assert page.auto_assign is False


def test_an_agent_cannot_turn_auto_assign_on(client, agent, page):
    client.force_login(agent)
    assert client.post(reverse("social:account_auto_assign", args=[page.public_id]), {"enabled": "on"}).status_code == 403
    page.refresh_from_db()
    assert page.auto_assign is False
