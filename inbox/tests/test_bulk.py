"""Bulk actions of the conversation list: each action on many rows (changed, audited once, pushed once),
tenancy, the selection's limits, roles, CSRF, constant queries, and the markup the page's script uses."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Conversation, ConversationLabel, Label, Notification
from inbox.realtime import render_live
from inbox.services import bulk as bulk_services
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = Conversation.Status


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, role=Membership.Role.AGENT, user__email="ada@bakery.example", user__name="Ada Lovelace"
    ).user


@pytest.fixture
def client_agent(agent):
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def refund(business):
    return Label.objects.create(business=business, name="Refund", colour=Label.Colour.RED)


@pytest.fixture
def pushes(monkeypatch):
    """Every business push made after commit: the conversation ids of each."""
    sent: list[list[int]] = []
    monkeypatch.setattr("inbox.realtime.publish", lambda **kwargs: sent.append(sorted(kwargs["conversation_ids"])))
    return sent


def _rows(page, n: int, **kwargs) -> list[Conversation]:
    return [ConversationFactory(contact=ContactFactory(account=page), **kwargs) for _ in range(n)]


def _ids(rows) -> list[int]:
    return [c.pk for c in rows]


def _post(client, name: str, ids, captured=None, **data):
    return client.post(reverse(f"inbox:{name}"), {"ids": [str(pk) for pk in ids], **data}, **HTMX)


def _done(response) -> dict:
    return json.loads(response["HX-Trigger"])["inbox:bulk-done"]


def _summary(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=f"conversations.bulk_{action}")


# --- each action ------------------------------------------------------------------------------------------


def test_resolve_changes_every_row_audits_once_and_pushes_once(
    client_member, page, member, pushes, django_capture_on_commit_callbacks
):
    rows = _rows(page, 4)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_resolve", _ids(rows))
    assert response.status_code == 200
    assert set(Conversation.objects.values_list("status", flat=True)) == {Status.RESOLVED}
    assert _done(response)["message"] == "Resolved 4 conversations"
    assert _done(response)["changed"] == 4
    event = _summary("resolve")
    assert (event.actor, event.business, event.metadata["count"]) == (member, page.business, 4)
    assert event.metadata["ids"] == sorted(_ids(rows))
    # Each conversation's own trail, as a single action records it.
    assert AuditEvent.objects.filter(action="conversation.resolved").count() == 4
    assert pushes == [sorted(_ids(rows))]
    # The acting page gets the rows (a resolved row leaves the Open view in its script).
    assert all(f'id="conversation-{pk}"' in response.content.decode() for pk in _ids(rows))
    assert 'data-status="resolved"' in response.content.decode()


def test_reopen_counts_only_what_changed(client_member, page, pushes, django_capture_on_commit_callbacks):
    resolved = _rows(page, 2, status=Status.RESOLVED)
    already_open = _rows(page, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_reopen", _ids(resolved + already_open))
    assert _done(response)["message"] == "Reopened 2 conversations (1 already was)"
    assert set(Conversation.objects.values_list("status", flat=True)) == {Status.OPEN}
    assert pushes == [sorted(_ids(resolved))]
    assert _summary("reopen").metadata["ids"] == sorted(_ids(resolved))


def test_mark_read_reads_the_messages_and_clears_the_counts(
    client_member, page, member, pushes, django_capture_on_commit_callbacks
):
    rows = _rows(page, 3, unread_count=2)
    for c in rows:
        ChatMessageFactory.create_batch(2, conversation=c, is_read=False)
    read = _rows(page, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_read", _ids(rows + read))
    assert _done(response)["message"] == "Marked 3 conversations read (1 already was)"
    assert set(Conversation.objects.values_list("unread_count", flat=True)) == {0}
    assert not ChatMessage.objects.filter(is_read=False).exists()
    assert set(ChatMessage.objects.values_list("read_by", flat=True)) == {member.pk}
    assert AuditEvent.objects.filter(action="conversation.read").count() == 3
    assert pushes == [sorted(_ids(rows))]


def test_mark_read_does_not_tell_meta_seen(client_member, page, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("inbox.services.conversations.enqueue_on_commit", lambda *args: queued.append(args))
    rows = _rows(page, 2, unread_count=1)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client_member, "bulk_read", _ids(rows))
    assert queued == []


def test_mark_unread_makes_the_latest_customer_message_unread(
    client_member, page, pushes, django_capture_on_commit_callbacks
):
    rows = _rows(page, 3)
    now = timezone.now()
    latest = {}
    for c in rows:
        ChatMessageFactory(conversation=c, is_read=True, timestamp=now - timedelta(minutes=5))
        latest[c.pk] = ChatMessageFactory(conversation=c, is_read=True, timestamp=now - timedelta(minutes=1)).pk
        ChatMessageFactory(conversation=c, direction=ChatMessage.Direction.OUTBOUND, timestamp=now, is_read=True)
    unread_already = _rows(page, 1, unread_count=3)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_unread", _ids(rows + unread_already))
    assert _done(response)["message"] == "Marked 3 conversations unread (1 already was)"
    assert set(ChatMessage.objects.filter(is_read=False).values_list("pk", flat=True)) == set(latest.values())
    counts = dict(Conversation.objects.values_list("pk", "unread_count"))
    assert [counts[c.pk] for c in rows] == [1, 1, 1]
    assert counts[unread_already[0].pk] == 3
    assert pushes == [sorted(_ids(rows))]


def test_assign_to_a_member_notifies_them_once(
    client_member, page, member, agent, pushes, django_capture_on_commit_callbacks
):
    rows = _rows(page, 3)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_assign", _ids(rows), assignee=str(agent.pk))
    assert _done(response)["message"] == "Assigned 3 conversations to Ada Lovelace"
    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {agent.pk}
    assert AuditEvent.objects.filter(action="conversation.assigned").count() == 3
    assert _summary("assign").metadata["assignee"] == agent.pk
    [note] = Notification.objects.filter(recipient=agent)
    assert note.conversation is None and "assigned you 3 conversations" in note.text
    assert pushes == [sorted(_ids(rows))]


def test_assign_to_me_and_unassign(client_member, page, member, agent):
    rows = _rows(page, 2, assignee=agent)
    response = _post(client_member, "bulk_assign", _ids(rows), assignee="me")
    assert _done(response)["message"] == "Assigned 2 conversations to you"
    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {member.pk}
    assert not Notification.objects.exists()  # nobody is told of their own action
    response = _post(client_member, "bulk_assign", _ids(rows), assignee="none")
    assert _done(response)["message"] == "Unassigned 2 conversations"
    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {None}


def test_assign_refuses_someone_outside_the_business(client_member, page, other_member):
    rows = _rows(page, 2)
    for assignee in (str(other_member.pk), "", "nobody"):
        response = _post(client_member, "bulk_assign", _ids(rows), assignee=assignee)
        assert response.status_code == 400
        assert response.content.decode() == "Pick a member of the business."
    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {None}


def test_label_add_and_remove(client_member, page, refund, pushes, django_capture_on_commit_callbacks):
    rows = _rows(page, 3)
    ConversationLabel.objects.create(business=page.business, conversation=rows[0], label=refund)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_label_add", _ids(rows), label=str(refund.pk))
    assert _done(response)["message"] == "Added “Refund” to 2 conversations (1 already was)"
    assert ConversationLabel.objects.filter(label=refund).count() == 3
    assert pushes == [sorted(_ids(rows[1:]))]
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_label_remove", _ids(rows[:2]), label=str(refund.pk))
    assert _done(response)["message"] == "Removed “Refund” from 2 conversations"
    assert list(ConversationLabel.objects.values_list("conversation_id", flat=True)) == [rows[2].pk]
    assert AuditEvent.objects.filter(action="conversation.labels_removed").count() == 2
    assert pushes[1] == sorted(_ids(rows[:2]))


def test_label_of_another_business_is_refused(client_member, page, other_business):
    theirs = Label.objects.create(business=other_business, name="Theirs")
    rows = _rows(page, 2)
    for label in (str(theirs.pk), "", "x"):
        response = _post(client_member, "bulk_label_add", _ids(rows), label=label)
        assert response.status_code == 400
        assert response.content.decode() == "Pick one of the business's labels."
    assert not ConversationLabel.objects.exists()


def test_nothing_to_change_is_no_push(client_member, page, pushes, django_capture_on_commit_callbacks):
    rows = _rows(page, 2, status=Status.RESOLVED)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_resolve", _ids(rows))
    assert _done(response)["message"] == "Resolved 0 conversations (2 already were)"
    assert pushes == []
    assert _summary("resolve").metadata["count"] == 0


def test_many_rows_are_one_push(client_member, page, pushes, django_capture_on_commit_callbacks):
    rows = _rows(page, 60)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_member, "bulk_resolve", _ids(rows))
    assert pushes == [sorted(_ids(rows))]  # realtime sends a list resync past its per-push cap
    assert 'data-live="resync"' in response.content.decode()


# --- tenancy --------------------------------------------------------------------------------------------


def test_ids_of_another_business_are_ignored_and_counted(
    client_member, page, other_page, pushes, django_capture_on_commit_callbacks
):
    mine = _rows(page, 2)
    theirs = _rows(other_page, 3)
    for name, data in (
        ("bulk_resolve", {}),
        ("bulk_read", {}),
        ("bulk_unread", {}),
        ("bulk_assign", {"assignee": "me"}),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = _post(client_member, name, _ids(mine + theirs) + [987654], **data)
        assert response.status_code == 200, name
        assert _done(response)["ignored"] == 4, name
        assert "4 were not found" in _done(response)["message"], name
    for c in theirs:
        c.refresh_from_db()
        assert (c.status, c.assignee_id, c.unread_count) == (Status.OPEN, None, 0)
    assert all(pk in _ids(mine) for push in pushes for pk in push)
    assert not AuditEvent.objects.filter(business=other_page.business).exists()


def test_a_member_of_another_business_changes_nothing(client_other, page, refund):
    rows = _rows(page, 2)
    response = _post(client_other, "bulk_resolve", _ids(rows))
    assert response.status_code == 200
    assert _done(response) | {"message": ""} == {"message": "", "action": "resolve", "changed": 0, "ignored": 2}
    assert "Bakery Rossi" not in response.content.decode()
    assert _post(client_other, "bulk_label_add", _ids(rows), label=str(refund.pk)).status_code == 400
    assert set(Conversation.objects.values_list("status", flat=True)) == {Status.OPEN}
    assert not ConversationLabel.objects.exists()


# --- the selection's limits, roles, CSRF ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["bulk_resolve", "bulk_reopen", "bulk_read", "bulk_unread", "bulk_assign"])
def test_an_empty_selection_is_a_400_with_a_reason(client_member, name):
    response = _post(client_member, name, [], assignee="me")
    assert response.status_code == 400
    assert response.content.decode() == "Select at least one conversation."


def test_too_many_ids_are_refused(client_member, page):
    rows = _rows(page, 1)
    ids = _ids(rows) + list(range(10**6, 10**6 + bulk_services.MAX_IDS))
    response = _post(client_member, "bulk_resolve", ids)
    assert response.status_code == 400
    assert "at most 500 conversations" in response.content.decode()
    assert Conversation.objects.get().status == Status.OPEN
    # 500 exactly is fine.
    assert _post(client_member, "bulk_resolve", ids[:500]).status_code == 200


def test_a_malformed_id_is_refused(client_member, page):
    rows = _rows(page, 1)
    response = _post(client_member, "bulk_resolve", [*_ids(rows), "1; DROP"])
    assert response.status_code == 400
    assert Conversation.objects.get().status == Status.OPEN


def test_without_htmx_the_list_comes_back_with_a_message(client_member, page):
    rows = _rows(page, 2)
    back = reverse("inbox:conversation_list") + "?status=open&unread=1"
    response = client_member.post(reverse("inbox:bulk_resolve"), {"ids": _ids(rows), "next": back}, follow=True)
    assert response.redirect_chain == [(back, 302)]
    assert "Resolved 2 conversations" in response.content.decode()
    # Another site, or not the list, is never where it returns.
    for target in ("https://evil.example/inbox/", "/accounts/profile/", "//evil.example/inbox/"):
        response = client_member.post(reverse("inbox:bulk_resolve"), {"ids": _ids(rows), "next": target})
        assert response["Location"] == reverse("inbox:conversation_list")
    response = client_member.post(reverse("inbox:bulk_resolve"), {"ids": []})
    assert response.status_code == 302


def test_an_agent_may_do_bulk_actions(client_agent, page, agent):
    rows = _rows(page, 2)
    assert _post(client_agent, "bulk_resolve", _ids(rows)).status_code == 200
    assert _post(client_agent, "bulk_assign", _ids(rows), assignee="me").status_code == 200
    assert set(Conversation.objects.values_list("status", "assignee_id")) == {(Status.RESOLVED, agent.pk)}


def test_anonymous_visitors_are_sent_to_log_in(client, page):
    rows = _rows(page, 1)
    response = client.post(reverse("inbox:bulk_resolve"), {"ids": _ids(rows)})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Conversation.objects.get().status == Status.OPEN


def test_a_post_without_the_csrf_token_is_refused(member, page):
    rows = _rows(page, 2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("inbox:bulk_resolve"), {"ids": _ids(rows)}, **HTMX)
    assert response.status_code == 403
    assert set(Conversation.objects.values_list("status", flat=True)) == {Status.OPEN}


def test_get_is_not_allowed(client_member):
    assert client_member.get(reverse("inbox:bulk_resolve")).status_code == 405


# --- constant queries -----------------------------------------------------------------------------------


def _queries(client, name: str, ids, **data) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = _post(client, name, ids, **data)
    assert response.status_code == 200
    assert _done(response)["changed"] == len(ids)
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("name", "row_kwargs", "data"),
    [
        ("bulk_resolve", {}, {}),
        ("bulk_reopen", {"status": Status.RESOLVED}, {}),
        ("bulk_read", {"unread_count": 1}, {}),
        ("bulk_unread", {}, {}),
        ("bulk_assign", {}, {"assignee": "agent"}),
        ("bulk_label_add", {}, {"label": "refund"}),
    ],
)
def test_a_bulk_action_takes_as_many_queries_for_50_rows_as_for_5(
    client_member, page, agent, refund, name, row_kwargs, data
):
    data = {key: str({"agent": agent, "refund": refund}[value].pk) for key, value in data.items()}
    warm = _rows(page, 2, **row_kwargs)
    few = _rows(page, 5, **row_kwargs)
    many = _rows(page, 50, **row_kwargs)
    for c in warm + few + many:
        ChatMessageFactory(conversation=c, is_read=not row_kwargs.get("unread_count"))
    # A first action fills what the process caches (whether the business has outbound webhooks).
    _queries(client_member, name, _ids(warm), **data)
    assert _queries(client_member, name, _ids(few), **data) == _queries(client_member, name, _ids(many), **data)


# --- the page's markup ----------------------------------------------------------------------------------


def test_the_list_has_a_checkbox_per_row_and_the_bar(client_member, page, refund):
    rows = _rows(page, 2)
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    for c in rows:
        assert re.search(
            rf'<input type="checkbox" class="conv-select" name="ids" value="{c.pk}" form="bulk-form"', html
        )
    assert 'id="bulk-bar"' in html and 'id="bulk-form"' in html
    for text in (">Resolve<", ">Mark read<", ">Mark unread<", ">Select all in view<", ">Clear<", "Assign", "Label"):
        assert text in html
    assert f'name="label" value="{refund.pk}" formaction="{reverse("inbox:bulk_label_add")}"' in html
    assert ">Reopen<" not in html  # the Open view resolves; the Resolved view reopens
    html = client_member.get(reverse("inbox:conversation_list") + "?status=resolved").content.decode()
    assert ">Reopen<" in html and ">Resolve<" not in html
    assert "js/bulk.js" in html and "css/bulk.css" in html


def test_a_pushed_row_carries_its_checkbox(page):
    [c] = _rows(page, 1)
    html = render_live(business_id=page.business_id, conversation_ids=[c.pk])
    assert f'class="conv-select" name="ids" value="{c.pk}"' in html


def test_the_assign_menu_lists_the_other_members_of_the_business(client_member, member, agent, other_member):
    response = client_member.get(reverse("inbox:bulk_assignees"), **HTMX)
    html = response.content.decode()
    assert f'name="assignee" value="{agent.pk}"' in html and "Ada Lovelace" in html
    assert f'value="{member.pk}"' not in html  # "Me" is its own entry
    assert f'value="{other_member.pk}"' not in html
