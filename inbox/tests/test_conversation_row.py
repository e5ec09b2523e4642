"""A conversation row, as the list, the live pushes and the scripts read it (inbox/templatetags/conversation_row.py).

The row is built in Python rather than by the template engine, so what autoescaping gave for free
is asserted here: every text a customer, a member or Meta chose is escaped, in text and attributes.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.tests.factories import MembershipFactory
from inbox import selectors
from inbox.models import Conversation, ConversationLabel, Label
from inbox.realtime import render_live
from inbox.templatetags.conversation_row import conversation_row, detail_url
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HOSTILE = "\"><img src=x onerror=alert(1)>&'"


def _row(conversation: Conversation) -> str:
    (loaded,) = selectors.conversations_by_ids(business_id=conversation.business_id, ids=[conversation.pk])
    return str(conversation_row(loaded))


def test_every_chosen_text_is_escaped_in_text_and_attributes(page, business):
    page.account_name = f"Page {HOSTILE}"
    page.save(update_fields=["account_name"])
    label = Label.objects.create(business=business, name=f"Label {HOSTILE}", colour=Label.Colour.RED)
    conversation = ConversationFactory(
        contact=ContactFactory(account=page, name=f"Name {HOSTILE}"), last_message_preview=f"Preview {HOSTILE}"
    )
    ConversationLabel.objects.create(business=business, conversation=conversation, label=label)

    html = _row(conversation)

    assert "<img src=x" not in html
    assert 'aria-label="Select the conversation with Name &quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#x27;"' in html
    for text in ("Name", "Preview", "Page", "Label"):
        assert f"{text} &quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#x27;" in html


def test_the_rows_data_attributes_are_what_the_scripts_filter_and_place_by(page, business, member):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    team = Team.objects.create(business=business, name="Orders")
    refund = Label.objects.create(business=business, name="Refund", colour=Label.Colour.RED)
    vip = Label.objects.create(business=business, name="VIP", colour=Label.Colour.PURPLE)
    conversation = ConversationFactory(
        contact=ContactFactory(account=page),
        unread_count=3,
        priority=Conversation.Priority.HIGH,
        status=Conversation.Status.PENDING,
        assignee=agent,
        team=team,
    )
    for label in (vip, refund):
        ConversationLabel.objects.create(business=business, conversation=conversation, label=label)

    html = _row(conversation)

    assert f'<li id="conversation-{conversation.pk}" class="conv-row is-unread is-pending" data-live="row"' in html
    assert f'data-sort="{selectors.sort_key(conversation.last_message_at, conversation.pk)}"' in html
    assert 'data-status="pending" data-unread="3" data-priority="high"' in html
    assert f'data-account="{page.public_id}" data-assignee="{agent.pk}" data-team="{team.pk}"' in html
    assert f'data-labels=" {refund.pk} {vip.pk}"' in html  # by name, as the chips
    assert re.findall(r'label-chip label-(\w+)">', html) == ["red", "purple"]
    assert f'title="Assigned to {agent.display_name}"' in html
    assert '<span class="chip chip-status">Pending</span>' in html
    assert 'title="3 unread">3<' in html


def test_an_unassigned_unlabelled_open_row_carries_empty_attributes_and_no_chips(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_message_preview="")

    html = _row(conversation)

    assert 'class="conv-row" data-live="row"' in html
    assert 'data-assignee="" data-team="" data-labels="">' in html
    assert "No messages yet" in html
    assert "unread-badge" not in html
    assert "conv-labels" not in html
    assert "chip-status" not in html


def test_our_own_last_message_reads_you_and_a_snooze_shows_its_time(page):
    until = timezone.now() + timedelta(hours=3)
    conversation = ConversationFactory(
        contact=ContactFactory(account=page),
        last_message_preview="On its way",
        last_message_direction="outbound",
        status=Conversation.Status.SNOOZED,
        snoozed_until=until,
    )

    html = _row(conversation)

    assert '<span class="conv-you">You: </span>On its way' in html
    assert f'Snoozed until <time datetime="{until.isoformat()}" data-format="long">' in html


def test_the_link_opens_the_conversation_under_any_url_prefix(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    assert detail_url(conversation.public_id) == reverse("inbox:conversation_detail", args=[conversation.public_id])
    set_script_prefix("/support/")
    try:
        assert detail_url(conversation.public_id) == f"/support/inbox/c/{conversation.public_id}/"
        assert detail_url(conversation.public_id) == reverse("inbox:conversation_detail", args=[conversation.public_id])
    finally:
        clear_script_prefix()
    assert f'href="{reverse("inbox:conversation_detail", args=[conversation.public_id])}"' in _row(conversation)


def test_the_list_page_and_a_push_carry_the_same_row(client_member, page, business):
    conversation = ConversationFactory(contact=ContactFactory(account=page), unread_count=1)

    page_html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    push_html = render_live(business_id=business.pk, conversation_ids=[conversation.pk], pane_ids=())

    row = _row(conversation)
    assert row in page_html
    assert row in push_html
