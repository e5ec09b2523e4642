"""Private notes: stored and pushed, never sent to Meta, not a reply, with @mentions of members only."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory, UserFactory
from inbox.models import ChatMessage, Conversation, NoteMention, Notification
from inbox.reply_window import reply_window
from inbox.services import notes
from inbox.services.replies import ReplyError, reply_deliver, reply_retry
from inbox.tasks import message_send
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import logged_in_client, run_on_commit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, user__email="giulia@bakery.example", user__name="Giulia Rossi", role="agent"
    ).user


@pytest.fixture
def conversation(page):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page, name="Marco Bianchi"),
        last_message_at=timezone.now() - timedelta(minutes=5),
        last_message_preview="Is the cake ready?",
        last_message_direction="inbound",
        unread_count=2,
        last_inbound_at=timezone.now() - timedelta(minutes=5),
    )
    ChatMessageFactory(
        conversation=conversation,
        content="Is the cake ready?",
        direction="inbound",
        timestamp=timezone.now() - timedelta(minutes=5),
    )
    return conversation


@pytest.fixture
def graph():
    """Meta's Graph API: any call at all fails the test (a note must never reach it)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
    assert rsps.calls == [] or not rsps.calls, "a note made a Graph API call"


# --- stored, never sent --------------------------------------------------------------------------------


def test_a_note_is_stored_as_an_internal_message(conversation, member):
    note = run_on_commit(notes.note_create, conversation=conversation, user=member, text="  Call her back at 5  ")
    note.refresh_from_db()
    assert note.kind == ChatMessage.Kind.NOTE
    assert note.direction == ChatMessage.Direction.INTERNAL
    assert note.content == "Call her back at 5"
    assert note.sent_by == member
    assert note.message_id is None and note.client_token is None
    assert note.status != ChatMessage.Status.QUEUED
    assert AuditEvent.objects.filter(action="message.note_added", target_id=str(note.pk), actor=member).exists()


def test_a_note_queues_no_send_and_calls_no_graph_api(conversation, member, graph):
    with (
        mock.patch("config.tasks.enqueue_on_commit") as enqueue,
        mock.patch("inbox.services.replies.enqueue_on_commit") as reply_enqueue,
    ):
        note = run_on_commit(notes.note_create, conversation=conversation, user=member, text="Internal only")
    enqueue.assert_not_called()
    reply_enqueue.assert_not_called()
    # Even run by hand, the send task and the service leave it alone, without a call to Meta.
    assert message_send.run(note.pk) == "skipped"
    assert reply_deliver(message_id=note.pk) == "skipped"
    assert len(graph.calls) == 0


def test_a_note_is_never_sent_even_if_its_row_looks_like_a_queued_reply(conversation, member, graph):
    note = notes.note_create(conversation=conversation, user=member, text="Internal only")
    # Whatever changed the row, its kind keeps it away from the Send API.
    ChatMessage.objects.filter(pk=note.pk).update(direction="outbound", status="queued")
    assert reply_deliver(message_id=note.pk) == "skipped"
    assert len(graph.calls) == 0


def test_a_note_cannot_be_retried(conversation, member):
    note = notes.note_create(conversation=conversation, user=member, text="Internal only")
    ChatMessage.objects.filter(pk=note.pk).update(status="failed")
    note.refresh_from_db()
    with pytest.raises(ReplyError):
        reply_retry(message=note, user=member)


def test_the_retry_view_refuses_a_note(conversation, member, business):
    note = notes.note_create(conversation=conversation, user=member, text="Internal only")
    client = logged_in_client(member, business.pk)
    response = client.post(reverse("inbox:message_retry", args=[note.public_id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    note.refresh_from_db()
    assert note.status == ChatMessage.Status.RECEIVED


# --- not a reply, not unread ------------------------------------------------------------------------------


def test_a_note_leaves_the_customer_side_of_the_conversation_alone(conversation, member):
    before = Conversation.objects.get(pk=conversation.pk)
    window_before = reply_window(conversation=before)
    run_on_commit(notes.note_create, conversation=conversation, user=member, text="Checked with the kitchen")
    after = Conversation.objects.get(pk=conversation.pk)
    assert after.last_message_at == before.last_message_at
    assert after.last_message_preview == "Is the cake ready?"
    assert after.last_message_direction == "inbound"
    assert after.unread_count == 2
    assert after.last_inbound_at == before.last_inbound_at
    assert not ChatMessage.objects.filter(conversation=conversation, direction="inbound", is_replied=True).exists()
    assert reply_window(conversation=after).state == window_before.state


def test_an_empty_or_too_long_note_is_refused(conversation, member):
    with pytest.raises(notes.NoteError):
        notes.note_create(conversation=conversation, user=member, text="   ")
    with pytest.raises(notes.NoteError):
        notes.note_create(conversation=conversation, user=member, text="x" * (notes.NOTE_MAX_CHARS + 1))
    assert not ChatMessage.objects.filter(kind="note").exists()


# --- pushed --------------------------------------------------------------------------------------------


def test_a_note_is_pushed_to_the_business_after_commit(conversation, member, business):
    with mock.patch("inbox.realtime.publish") as publish:
        note = run_on_commit(notes.note_create, conversation=conversation, user=member, text="On it")
    publish.assert_called_once()
    kwargs = publish.call_args.kwargs
    assert kwargs["business_id"] == business.pk and kwargs["message_ids"] == (note.pk,)


def test_the_pushed_note_is_a_private_note_card_with_its_author(conversation, member):
    from inbox.realtime import render_live

    note = notes.note_create(conversation=conversation, user=member, text="On it <b>now</b>")
    html = render_live(business_id=conversation.business_id, message_ids=[note.pk])
    assert f'id="message-{note.pk}"' in html
    assert "msg-note" in html and "Private note" in html
    assert member.display_name in html
    assert "staff-avatar" in html
    assert "On it &lt;b&gt;now&lt;/b&gt;" in html  # escaped


# --- mentions ------------------------------------------------------------------------------------------


def test_mentions_name_members_by_display_name_or_email(conversation, member, agent, business):
    text = "@giulia rossi can you check? cc @owner"
    assert notes.mentions_parse(business=business, text=text) == [agent.pk, member.pk]


def test_a_mention_of_a_stranger_is_plain_text(conversation, member, agent, business, other_member):
    stranger = UserFactory(email="stranger@elsewhere.example", name="Stranger Danger")
    text = f"@Stranger Danger and @{other_member.display_name} and mail giulia@bakery.example"
    assert notes.mentions_parse(business=business, text=text) == []
    note = notes.note_create(conversation=conversation, user=member, text=text)
    assert note.extra == {}
    assert not NoteMention.objects.exists()
    assert not Notification.objects.filter(recipient__in=[stranger, other_member]).exists()


def test_a_mention_needs_the_whole_name(business, member, agent):
    assert notes.mentions_parse(business=business, text="@giuliaX hello") == []
    assert notes.mentions_parse(business=business, text="@Giulia Rossi, hello") == [agent.pk]


def test_each_mentioned_member_is_notified_but_not_the_author(conversation, member, agent, business):
    with mock.patch("inbox.realtime.publish_to_user") as push:
        note = run_on_commit(
            notes.note_create,
            conversation=conversation,
            user=member,
            text="@Giulia Rossi please call, and @owner (me) will follow up",
        )
    assert note.extra["mentions"] == [agent.pk, member.pk]
    assert set(NoteMention.objects.filter(note=note).values_list("user_id", flat=True)) == {agent.pk, member.pk}
    notification = Notification.objects.get()
    assert notification.recipient == agent and notification.kind == "mentioned"
    assert notification.actor == member and notification.conversation == conversation
    assert "mentioned you" in notification.text and "please call" in notification.text
    push.assert_called_once_with(business_id=business.pk, user_id=agent.pk)


def test_mentions_are_marked_in_the_thread(conversation, member, agent):
    from inbox.realtime import render_live

    note = notes.note_create(conversation=conversation, user=member, text="Ask @giulia rossi <script>")
    html = render_live(business_id=conversation.business_id, message_ids=[note.pk])
    assert '<strong class="mention">@giulia rossi</strong>' in html
    assert "&lt;script&gt;" in html and "<script>" not in html


# --- the view ------------------------------------------------------------------------------------------


def test_posting_a_note_with_htmx_answers_the_live_fragments(conversation, member, business, graph):
    client = logged_in_client(member, business.pk)
    response = client.post(
        reverse("inbox:note_create", args=[conversation.public_id]), {"text": "Refund approved"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    note = ChatMessage.objects.get(kind="note")
    assert f'id="message-{note.pk}"' in response.content.decode()
    assert len(graph.calls) == 0


def test_posting_a_note_without_htmx_redirects_to_the_conversation(conversation, member, business):
    client = logged_in_client(member, business.pk)
    response = client.post(reverse("inbox:note_create", args=[conversation.public_id]), {"text": "Refund approved"})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation_detail", args=[conversation.public_id])


def test_an_empty_note_answers_the_composer_in_note_mode_with_the_error(conversation, member, business):
    client = logged_in_client(member, business.pk)
    response = client.post(reverse("inbox:note_create", args=[conversation.public_id]), {"text": " "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    html = response.content.decode()
    assert "Write a note." in html and "is-note-mode" in html
    assert not ChatMessage.objects.filter(kind="note").exists()


def test_a_note_is_possible_while_replies_are_paused(page, member, business):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=timezone.now() - timedelta(days=30)
    )
    client = logged_in_client(member, business.pk)
    detail = client.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "Replies are paused" in detail
    assert reverse("inbox:note_create", args=[conversation.public_id]) in detail
    response = client.post(reverse("inbox:note_create", args=[conversation.public_id]), {"text": "Customer went quiet"})
    assert response.status_code == 302
    assert ChatMessage.objects.filter(kind="note", conversation=conversation).exists()


def test_another_business_cannot_add_a_note(conversation, other_member, other_business):
    client = logged_in_client(other_member, other_business.pk)
    response = client.post(reverse("inbox:note_create", args=[conversation.public_id]), {"text": "hi"})
    assert response.status_code == 404
    assert not ChatMessage.objects.filter(kind="note").exists()


def test_the_composer_offers_reply_and_note_tabs(conversation, member, business):
    client = logged_in_client(member, business.pk)
    html = client.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert 'role="tablist"' in html
    assert 'data-composer-tab="note"' in html and 'data-composer-tab="reply"' in html
    assert f'id="note-text-{conversation.pk}"' in html and "data-mentions=" in html


def test_the_thread_shows_who_wrote_replies_and_notes(conversation, member, agent, business):
    ChatMessageFactory(
        conversation=conversation,
        direction="outbound",
        source="inbox",
        sent_by=agent,
        content="It is ready",
        status="sent",
        message_id="m_reply_1",
    )
    notes.note_create(conversation=conversation, user=member, text="Packed it")
    client = logged_in_client(member, business.pk)
    html = client.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "Giulia Rossi" in html  # the reply's author
    assert ">GR<" in html  # and their initials avatar
    assert "Private note" in html and "Packed it" in html


def test_the_member_list_for_mentions_is_this_business_only_without_the_writer(member, agent, business, other_member):
    client = logged_in_client(member, business.pk)
    data = client.get(reverse("inbox:mention_members")).json()
    ids = {m["id"] for m in data["members"]}
    assert ids == {agent.pk}  # not the other business's member, and not the writer: one does not @ oneself
    assert {"id": agent.pk, "name": "Giulia Rossi", "handle": "giulia"} in data["members"]

    as_agent = logged_in_client(agent, business.pk).get(reverse("inbox:mention_members")).json()
    assert {m["id"] for m in as_agent["members"]} == {member.pk}


# --- the Mentions view ------------------------------------------------------------------------------------


def test_the_mentions_view_lists_conversations_where_i_was_mentioned_newest_first(page, member, agent, business):
    older = ConversationFactory(contact=ContactFactory(account=page, name="Older Customer"))
    newer = ConversationFactory(contact=ContactFactory(account=page, name="Newer Customer"))
    elsewhere = ConversationFactory(contact=ContactFactory(account=page, name="Nobody Mentioned Me"))
    first = notes.note_create(conversation=older, user=member, text="@Giulia Rossi first")
    NoteMention.objects.filter(note=first).update(created_at=timezone.now() - timedelta(hours=2))
    notes.note_create(conversation=newer, user=member, text="@giulia second")
    notes.note_create(conversation=elsewhere, user=agent, text="no mention here")
    client = logged_in_client(agent, business.pk)
    html = client.get(reverse("inbox:mention_list")).content.decode()
    assert "Newer Customer" in html and "Older Customer" in html
    assert html.index("Newer Customer") < html.index("Older Customer")
    assert "Nobody Mentioned Me" not in html
    assert "@giulia second" in html or "second" in html


def test_the_mentions_view_shows_only_my_mentions(page, member, agent, business):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Only For Giulia"))
    notes.note_create(conversation=conversation, user=agent, text="@owner look")
    client = logged_in_client(agent, business.pk)
    assert "Only For Giulia" not in client.get(reverse("inbox:mention_list")).content.decode()


def test_the_mentions_view_costs_the_same_for_many_rows(page, member, agent, business, django_assert_max_num_queries):
    for i in range(6):
        conversation = ConversationFactory(contact=ContactFactory(account=page))
        notes.note_create(conversation=conversation, user=member, text=f"@giulia number {i}")
    from inbox.selectors import mention_rows

    with django_assert_max_num_queries(3):
        rows = mention_rows(business=business, user=agent)
    assert len(rows) == 6


def test_the_mentions_page_reads_no_column_per_row(page, member, agent, business):
    """The selector loads only the columns the page shows: a field the template reads beyond them
    would cost a query per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in_client(agent, business.pk)

    def page_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            html = client.get(reverse("inbox:mention_list")).content.decode()
        return len(captured.captured_queries), html

    conversation = ConversationFactory(contact=ContactFactory(account=page, name="First Customer"))
    notes.note_create(conversation=conversation, user=member, text="@giulia the first")
    one, _html = page_queries()
    for i in range(5):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"Customer {i}"))
        notes.note_create(conversation=conversation, user=member, text=f"@giulia number {i}")
    six, html = page_queries()

    assert six == one
    assert html.count('class="card mention-row"') == 6
    assert "Customer 4" in html and "number 4" in html and page.account_name in html


def test_the_mentions_view_is_linked_from_the_list(member, business):
    client = logged_in_client(member, business.pk)
    assert reverse("inbox:mention_list") in client.get(reverse("inbox:conversation_list")).content.decode()


def test_the_mentions_view_of_another_business_shows_nothing_of_this_one(
    page, member, agent, other_member, other_business
):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Secret Customer"))
    notes.note_create(conversation=conversation, user=member, text="@giulia secret")
    MembershipFactory(business=other_business, user=agent)
    client = logged_in_client(agent, other_business.pk)
    assert "Secret Customer" not in client.get(reverse("inbox:mention_list")).content.decode()


def test_a_note_is_not_counted_among_the_page_s_messages_today(conversation, member, business):
    from inbox.selectors import dashboard_rows

    before = {row.account.pk: row.messages_today for row in dashboard_rows(business=business)}
    notes.note_create(conversation=conversation, user=member, text="Internal")
    after = {row.account.pk: row.messages_today for row in dashboard_rows(business=business)}
    assert after == before
