"""Conversation statuses: open, pending, snoozed until a time, resolved.

Each transition as a service (audited, pushed), the snooze presets in the staff member's time zone,
the wake-up task, a customer's message reopening through the real ingest, the data migration from
"archived", the views (roles, tenancy, bad input) and the list's views and empty states.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import zoneinfo
from unittest import mock

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import Conversation
from inbox.realtime import render_live
from inbox.services import conversations as services
from inbox.services.conversations import ConversationError, snooze_preset_until
from inbox.tests.factories import ContactFactory, ConversationFactory
from inbox.tests.helpers import PAGE_ID, PSID, FakeGraph, post_webhook
from sandbox import payloads as p

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROME = zoneinfo.ZoneInfo("Europe/Rome")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
Status = Conversation.Status


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page, name="Giulia"), unread_count=1)


@pytest.fixture
def published():
    with mock.patch("inbox.services.conversations.publish_on_commit") as publish:
        yield publish


def _later(**kwargs) -> dt.datetime:
    return timezone.now() + dt.timedelta(**kwargs)


def _events(action: str, conversation: Conversation) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target_id=str(conversation.pk)))


# --- services: each transition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "start", "status", "action"),
    [
        ("conversation_resolve", Status.OPEN, Status.RESOLVED, "conversation.resolved"),
        ("conversation_resolve", Status.PENDING, Status.RESOLVED, "conversation.resolved"),
        ("conversation_resolve", Status.SNOOZED, Status.RESOLVED, "conversation.resolved"),
        ("conversation_reopen", Status.RESOLVED, Status.OPEN, "conversation.reopened"),
        ("conversation_reopen", Status.PENDING, Status.OPEN, "conversation.reopened"),
        ("conversation_mark_pending", Status.OPEN, Status.PENDING, "conversation.pending"),
        ("conversation_mark_pending", Status.SNOOZED, Status.PENDING, "conversation.pending"),
        ("conversation_unsnooze", Status.SNOOZED, Status.OPEN, "conversation.unsnoozed"),
    ],
)
def test_each_transition_is_written_audited_and_pushed(conversation, member, published, service, start, status, action):
    until = _later(hours=3) if start == Status.SNOOZED else None
    Conversation.objects.filter(pk=conversation.pk).update(status=start, snoozed_until=until)
    changed = getattr(services, service)(conversation=conversation, user=member)
    assert changed.status == status
    assert changed.snoozed_until is None  # any status but snoozed ends a snooze
    [event] = _events(action, conversation)
    assert (event.actor, event.business, event.metadata) == (member, conversation.business, {"from": start})
    published.assert_called_once_with(business_id=conversation.business_id, conversation_ids=[conversation.pk])


@pytest.mark.parametrize(
    ("service", "status"),
    [
        ("conversation_resolve", Status.RESOLVED),
        ("conversation_reopen", Status.OPEN),
        ("conversation_mark_pending", Status.PENDING),
        ("conversation_unsnooze", Status.OPEN),  # not snoozed: nothing to wake
        ("conversation_unsnooze", Status.RESOLVED),  # only a snoozed conversation is woken
    ],
)
def test_a_change_to_the_state_it_is_in_writes_nothing(conversation, member, published, service, status):
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    before = Conversation.objects.get(pk=conversation.pk).updated_at
    assert getattr(services, service)(conversation=conversation, user=member).status == status
    assert Conversation.objects.get(pk=conversation.pk).updated_at == before
    assert not AuditEvent.objects.filter(action__startswith="conversation.").exists()
    published.assert_not_called()


def test_snooze_sets_the_time_and_a_new_time_is_a_new_snooze(conversation, member, published):
    until = _later(hours=5)
    snoozed = services.conversation_snooze(conversation=conversation, user=member, until=until)
    assert (snoozed.status, snoozed.snoozed_until) == (Status.SNOOZED, until)
    [event] = _events("conversation.snoozed", conversation)
    assert event.metadata == {"from": "open", "until": until.isoformat()}
    services.conversation_snooze(conversation=conversation, user=member, until=until)  # the same: nothing
    later = until + dt.timedelta(days=1)
    assert services.conversation_snooze(conversation=conversation, user=member, until=later).snoozed_until == later
    assert len(_events("conversation.snoozed", conversation)) == 2
    assert published.call_count == 2


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (dt.timedelta(minutes=-1), "Pick a time in the future."),
        (dt.timedelta(0), "Pick a time in the future."),
        (dt.timedelta(days=366), "Snooze for a year at most."),
    ],
)
def test_snooze_must_be_in_the_future_and_within_a_year(conversation, member, published, until, message):
    with pytest.raises(ConversationError, match=message):
        services.conversation_snooze(conversation=conversation, user=member, until=timezone.now() + until)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (Status.OPEN, None)
    published.assert_not_called()


def test_a_snooze_of_a_year_is_allowed(conversation, member, published):
    until = _later(days=364, hours=23)
    assert services.conversation_snooze(conversation=conversation, user=member, until=until).status == Status.SNOOZED


def test_the_set_based_change_takes_lists_and_never_another_business(page, other_page, member, published):
    mine = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(3)]
    Conversation.objects.filter(pk=mine[2].pk).update(status=Status.RESOLVED)
    theirs = ConversationFactory(contact=ContactFactory(account=other_page))
    changed = services.conversations_set_status(
        business=page.business,
        user=member,
        conversation_ids=[c.pk for c in mine] + [theirs.pk],
        status=Status.RESOLVED,
    )
    assert changed == [mine[0].pk, mine[1].pk]  # the third already was; the other business's is not seen
    theirs.refresh_from_db()
    assert theirs.status == Status.OPEN
    assert AuditEvent.objects.filter(action="conversation.resolved").count() == 2
    published.assert_called_once_with(business_id=page.business_id, conversation_ids=[mine[0].pk, mine[1].pk])


def test_unknown_status_and_a_snooze_without_a_time_are_refused(conversation, member, published):
    with pytest.raises(ConversationError):
        services.conversations_set_status(
            business=conversation.business, user=member, conversation_ids=[conversation.pk], status="archived"
        )
    with pytest.raises(ConversationError):
        services.conversations_set_status(
            business=conversation.business, user=member, conversation_ids=[conversation.pk], status=Status.SNOOZED
        )


def test_status_changes_leave_what_ingest_wrote_meanwhile(conversation, member, published):
    newer = _later(minutes=1)
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=4, last_message_at=newer, priority="high")
    services.conversation_snooze(conversation=conversation, user=member, until=_later(hours=1))
    row = Conversation.objects.get(pk=conversation.pk)
    assert (row.unread_count, row.last_message_at, row.priority) == (4, newer, "high")


# --- snooze presets, in the staff member's time zone ---------------------------------------------------


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("preset", "now", "tz", "expected"),
    [
        ("1h", _utc(2026, 3, 11, 14, 7), ROME, _utc(2026, 3, 11, 15, 7)),
        # Wednesday 11 March, 15:00 in Rome (UTC+1).
        ("tonight", _utc(2026, 3, 11, 14), ROME, _utc(2026, 3, 11, 17)),
        ("tomorrow", _utc(2026, 3, 11, 14), ROME, _utc(2026, 3, 12, 8)),
        ("next_week", _utc(2026, 3, 11, 14), ROME, _utc(2026, 3, 16, 8)),
        # Past 18:00 "tonight" is tomorrow evening.
        ("tonight", _utc(2026, 3, 11, 19), ROME, _utc(2026, 3, 12, 17)),
        # On a Monday "next week" is the Monday after.
        ("next_week", _utc(2026, 3, 16, 8), ROME, _utc(2026, 3, 23, 8)),
        # Across the change to summer time (29 March): 09:00 in Rome is 07:00 UTC then.
        ("next_week", _utc(2026, 3, 25, 10), ROME, _utc(2026, 3, 30, 7)),
        # 22:00 on Wednesday in New York is already Thursday in UTC: the local day counts.
        ("tonight", _utc(2026, 3, 12, 2), NEW_YORK, _utc(2026, 3, 12, 22)),
        ("tomorrow", _utc(2026, 3, 12, 2), NEW_YORK, _utc(2026, 3, 12, 13)),
    ],
)
def test_presets_are_meant_in_the_staff_members_zone(preset, now, tz, expected):
    assert snooze_preset_until(preset, tz=tz, now=now) == expected


def test_an_unknown_zone_or_preset():
    assert services.snooze_zone("Mars/Olympus") == timezone.get_default_timezone()
    assert services.snooze_zone("") == timezone.get_default_timezone()
    assert services.snooze_zone("Europe/Rome") == ROME
    with pytest.raises(ConversationError):
        snooze_preset_until("someday", tz=ROME)


# --- waking up -----------------------------------------------------------------------------------------


def test_the_wake_task_opens_due_conversations_and_pushes_each_business(
    page, other_page, django_capture_on_commit_callbacks
):
    from inbox.tasks import conversations_wake_snoozed

    def snoozed(account, until):
        return ConversationFactory(contact=ContactFactory(account=account), status=Status.SNOOZED, snoozed_until=until)

    due, due_too, not_yet = (
        snoozed(page, _later(minutes=-5)),
        snoozed(page, _later(seconds=-1)),
        snoozed(page, _later(hours=1)),
    )
    theirs = snoozed(other_page, _later(minutes=-1))
    with mock.patch("inbox.realtime.publish") as publish, django_capture_on_commit_callbacks(execute=True):
        assert conversations_wake_snoozed() == 3
    for woken in (due, due_too, theirs):
        woken.refresh_from_db()
        assert (woken.status, woken.snoozed_until) == (Status.OPEN, None)
    not_yet.refresh_from_db()
    assert not_yet.status == Status.SNOOZED
    pushes = {call.kwargs["business_id"]: sorted(call.kwargs["conversation_ids"]) for call in publish.call_args_list}
    assert pushes == {page.business_id: sorted([due.pk, due_too.pk]), other_page.business_id: [theirs.pk]}
    with mock.patch("inbox.realtime.publish") as publish, django_capture_on_commit_callbacks(execute=True):
        assert conversations_wake_snoozed() == 0  # nothing left: no push
    publish.assert_not_called()


def test_waking_works_in_batches(page, monkeypatch):
    monkeypatch.setattr(services, "WAKE_BATCH", 2)
    for _ in range(5):
        ConversationFactory(
            contact=ContactFactory(account=page), status=Status.SNOOZED, snoozed_until=_later(minutes=-1)
        )
    assert services.conversations_wake_snoozed() == 5
    assert not Conversation.objects.filter(status=Status.SNOOZED).exists()


def test_the_woken_row_is_what_the_push_shows(page, business):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), status=Status.SNOOZED, snoozed_until=_later(minutes=-1)
    )
    before = render_live(business_id=business.pk, conversation_ids=[conversation.pk])
    assert 'data-status="snoozed"' in before and "Snoozed until" in before
    services.conversations_wake_snoozed()
    after = render_live(business_id=business.pk, conversation_ids=[conversation.pk])
    assert 'data-status="open"' in after and "Snoozed until" not in after


def test_the_wake_task_runs_every_minute_also_on_the_embedded_default():
    entry = settings.CELERY_BEAT_SCHEDULE["wake-snoozed-conversations"]
    assert entry["task"] == "inbox.tasks.conversations_wake_snoozed"
    # A number of seconds: the in-process runner of `runserver` runs it too (crontab entries need beat).
    assert entry["schedule"] == 60.0


def test_the_wake_task_is_registered():
    from config.celery_app import app

    app.loader.import_default_modules()
    assert "inbox.tasks.conversations_wake_snoozed" in app.tasks


# --- a customer's new message reopens, through the real ingest -----------------------------------------


def _send(client, *items):
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))
    assert post_webhook(client, body).status_code == 200


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.PENDING, Status.SNOOZED])
def test_a_customer_message_reopens_and_ends_a_snooze(client, page, status):
    with FakeGraph():
        _send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="hello", mid="m_first"))
        conversation = Conversation.objects.get()
        until = _later(days=2) if status == Status.SNOOZED else None
        Conversation.objects.filter(pk=conversation.pk).update(status=status, snoozed_until=until)
        with mock.patch("inbox.ingest.drain.publish_on_commit") as publish:
            _send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="anyone there?", mid="m_second"))
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (Status.OPEN, None)
    # The open pane's header changes too (its status actions).
    assert conversation.pk in set(publish.call_args.kwargs["pane_ids"])


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.PENDING, Status.SNOOZED])
def test_the_pages_own_reply_or_a_redelivery_reopens_nothing(client, page, status):
    with FakeGraph():
        _send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="hello", mid="m_first"))
        conversation = Conversation.objects.get()
        until = _later(days=2) if status == Status.SNOOZED else None
        Conversation.objects.filter(pk=conversation.pk).update(status=status, snoozed_until=until)
        _send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="hello", mid="m_first"))  # redelivered
        _send(client, p.echo(page_id=PAGE_ID, psid=PSID, text="We open at 9", mid="m_echo"))
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (status, until)


# --- the data migration --------------------------------------------------------------------------------


def test_the_migration_turns_archived_into_resolved_and_back(page):
    migration = importlib.import_module("inbox.migrations.0007_conversation_statuses")
    archived = ConversationFactory(contact=ContactFactory(account=page))
    still_open = ConversationFactory(contact=ContactFactory(account=page))
    Conversation.objects.filter(pk=archived.pk).update(status="archived")  # a row as it was before
    migration.archived_to_resolved(django_apps, None)
    assert Conversation.objects.get(pk=archived.pk).status == Status.RESOLVED
    assert Conversation.objects.get(pk=still_open.pk).status == Status.OPEN
    snoozed = ConversationFactory(
        contact=ContactFactory(account=page), status=Status.SNOOZED, snoozed_until=_later(hours=1)
    )
    migration.resolved_to_archived(django_apps, None)
    assert Conversation.objects.get(pk=archived.pk).status == "archived"
    assert (Conversation.objects.get(pk=snoozed.pk).status, Conversation.objects.get(pk=snoozed.pk).snoozed_until) == (
        Status.OPEN,
        None,
    )


# --- views ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start", "status"),
    [
        ("conversation_resolve", Status.OPEN, Status.RESOLVED),
        ("conversation_reopen", Status.RESOLVED, Status.OPEN),
        ("conversation_pending", Status.OPEN, Status.PENDING),
        ("conversation_unsnooze", Status.SNOOZED, Status.OPEN),
    ],
)
def test_actions_answer_htmx_with_the_new_row_and_header(client_member, conversation, name, start, status):
    Conversation.objects.filter(pk=conversation.pk).update(status=start)
    response = client_member.post(reverse(f"inbox:{name}", args=[conversation.public_id]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-status="{status}"' in html
    assert f'id="conversation-header-{conversation.pk}"' in html
    conversation.refresh_from_db()
    assert conversation.status == status


@pytest.mark.parametrize("role", [Membership.Role.AGENT, Membership.Role.ADMIN, Membership.Role.OWNER])
def test_every_role_of_the_business_may_change_statuses(client, business, conversation, role):
    client.force_login(MembershipFactory(business=business, role=role).user)
    assert client.post(reverse("inbox:conversation_pending", args=[conversation.public_id]), **HTMX).status_code == 200
    response = client.post(reverse("inbox:conversation_snooze", args=[conversation.public_id]), {"preset": "1h"}, **HTMX)
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == Status.SNOOZED


@pytest.mark.parametrize(
    "name",
    [
        "conversation_resolve",
        "conversation_reopen",
        "conversation_pending",
        "conversation_snooze",
        "conversation_unsnooze",
    ],
)
def test_status_actions_of_another_business_are_404_and_need_a_login(client, client_other, conversation, name):
    url = reverse(f"inbox:{name}", args=[conversation.public_id])
    assert client_other.post(url, {"preset": "1h"}, **HTMX).status_code == 404
    client.logout()
    assert client.post(url, {"preset": "1h"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert not AuditEvent.objects.filter(action__startswith="conversation.").exists()


def test_status_actions_are_post_only(client_member, conversation):
    for name in ("conversation_resolve", "conversation_pending", "conversation_snooze", "conversation_unsnooze"):
        assert client_member.get(reverse(f"inbox:{name}", args=[conversation.public_id])).status_code == 405


def test_snooze_with_a_preset_shows_snoozed_until(client_member, conversation):
    response = client_member.post(
        reverse("inbox:conversation_snooze", args=[conversation.public_id]),
        {"preset": "tomorrow", "tz": "Europe/Rome"},
        **HTMX,
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    local = conversation.snoozed_until.astimezone(ROME)
    assert (local.date(), local.time()) == (timezone.now().astimezone(ROME).date() + dt.timedelta(days=1), dt.time(9))
    html = response.content.decode()
    assert html.count("Snoozed until") == 2  # the row and the header
    assert f'datetime="{conversation.snoozed_until.isoformat()}"' in html


def test_snooze_until_a_typed_time_in_the_staff_members_zone(client_member, conversation):
    local = (
        (timezone.now() + dt.timedelta(days=3))
        .astimezone(NEW_YORK)
        .replace(hour=16, minute=30, second=0, microsecond=0)
    )
    response = client_member.post(
        reverse("inbox:conversation_snooze", args=[conversation.public_id]),
        {"until": local.strftime("%Y-%m-%dT%H:%M"), "tz": "America/New_York"},
        **HTMX,
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.snoozed_until == local


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Pick when the conversation should come back."),
        ({"preset": "someday"}, "Select a valid choice"),
        ({"until": "not a date"}, "Enter a valid date/time."),
        ({"until": "2020-01-01T09:00"}, "Pick a time in the future."),
        ({"until": f"{timezone.now().year + 2}-01-01T09:00"}, "Snooze for a year at most."),
    ],
)
def test_snooze_refuses_bad_input(client_member, conversation, data, message):
    url = reverse("inbox:conversation_snooze", args=[conversation.public_id])
    response = client_member.post(url, data, **HTMX)
    assert response.status_code == 400  # the page shows the reason
    assert message in response.content.decode()
    without_htmx = client_member.post(url, data, follow=True)
    assert without_htmx.redirect_chain[0][0] == reverse("inbox:conversation_detail", args=[conversation.public_id])
    assert message in without_htmx.content.decode()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (Status.OPEN, None)


def test_without_htmx_resolve_pending_and_snooze_go_back_to_the_list(client_member, conversation):
    for name, data in (
        ("conversation_pending", {}),
        ("conversation_snooze", {"preset": "1h"}),
        ("conversation_resolve", {}),
    ):
        response = client_member.post(reverse(f"inbox:{name}", args=[conversation.public_id]), data)
        assert response.status_code == 302 and response["Location"] == reverse("inbox:conversation_list")
    reopened = client_member.post(reverse("inbox:conversation_reopen", args=[conversation.public_id]))
    assert reopened["Location"] == reverse("inbox:conversation_detail", args=[conversation.public_id])


# --- what the header offers in each status -------------------------------------------------------------


def _header(client, conversation) -> str:
    html = client.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX).content.decode()
    return html.split(f'id="conversation-header-{conversation.pk}"', 1)[1].split("</header>", 1)[0]


@pytest.mark.parametrize(
    ("status", "offered", "not_offered"),
    [
        (
            Status.OPEN,
            {"conversation_pending", "conversation_snooze", "conversation_resolve"},
            {"conversation_reopen", "conversation_unsnooze"},
        ),
        (
            Status.PENDING,
            {"conversation_reopen", "conversation_snooze", "conversation_resolve"},
            {"conversation_pending", "conversation_unsnooze"},
        ),
        (
            Status.SNOOZED,
            {"conversation_unsnooze", "conversation_snooze", "conversation_resolve"},
            {"conversation_pending", "conversation_reopen"},
        ),
        (
            Status.RESOLVED,
            {"conversation_reopen"},
            {"conversation_pending", "conversation_snooze", "conversation_resolve", "conversation_unsnooze"},
        ),
    ],
)
def test_the_header_offers_what_applies(client_member, conversation, status, offered, not_offered):
    Conversation.objects.filter(pk=conversation.pk).update(
        status=status, snoozed_until=_later(hours=2) if status == Status.SNOOZED else None
    )
    header = _header(client_member, conversation)
    for name in offered:
        assert f'action="{reverse(f"inbox:{name}", args=[conversation.public_id])}"' in header, name
    for name in not_offered:
        assert f'action="{reverse(f"inbox:{name}", args=[conversation.public_id])}"' not in header, name
    if status == Status.SNOOZED:
        assert "Snoozed until" in header
    elif status != Status.OPEN:
        assert f'<span class="chip chip-status">{status.label}</span>' in header


def test_the_snooze_menu_is_usable_without_a_mouse_or_a_script(client_member, conversation):
    header = _header(client_member, conversation)
    menu = header.split('<details class="snooze-menu status-action">', 1)[1].split("</details>", 1)[0]
    assert "<summary" in menu
    presets = re.findall(r'<button class="secondary" type="submit" name="preset" value="([a-z_0-9]+)">', menu)
    assert presets == ["1h", "tonight", "tomorrow", "next_week"]
    assert f'<label for="snooze-until-{conversation.pk}">' in menu
    assert f'id="snooze-until-{conversation.pk}" type="datetime-local" name="until"' in menu
    assert 'name="csrfmiddlewaretoken"' in menu and 'name="tz"' in menu


# --- the list's views ----------------------------------------------------------------------------------


def test_the_list_has_a_view_per_status_with_its_rows(client_member, page):
    rows = {
        status: ConversationFactory(
            contact=ContactFactory(account=page, name=f"{status} customer"),
            status=status,
            snoozed_until=_later(hours=1) if status == Status.SNOOZED else None,
        )
        for status in Status.values
    }
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    for label, status in (("Pending", "pending"), ("Snoozed", "snoozed"), ("Resolved", "resolved")):
        assert f'<span class="filter-label">{label}</span>' in html
        assert f"?status={status}" in html
    assert "Archived" not in html
    for status, conversation in rows.items():
        response = client_member.get(reverse("inbox:conversation_list"), {"status": status})
        assert [c.pk for c in response.context["page"].conversations] == [conversation.pk]
        listing = response.content.decode()
        assert f'data-status="{status}"' in listing  # live rows are placed by it
        active = re.search(r'<a class="filter is-active" href="[^"]*"', listing).group(0)
        assert (f"status={status}" in active) == (status != Status.OPEN)


@pytest.mark.parametrize(
    ("status", "title"),
    [("pending", "Nothing pending"), ("snoozed", "Nothing snoozed"), ("resolved", "No resolved conversations")],
)
def test_each_view_has_its_empty_state(client_member, page, status, title):
    ConversationFactory(contact=ContactFactory(account=page))  # an open one, shown elsewhere
    html = client_member.get(reverse("inbox:conversation_list"), {"status": status}).content.decode()
    assert f'<p class="empty-title">{title}</p>' in html
