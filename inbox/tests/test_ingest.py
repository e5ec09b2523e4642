"""Applying webhook events: every event kind, idempotency, tenancy, ordering and partial failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import OperationalError

from inbox.ingest.drain import webhook_event_process
from inbox.ingest.replay import webhook_events_replay, webhook_events_replay_for_account
from inbox.models import Attachment, ChatMessage, Contact, Conversation, PendingMessageUpdate, WebhookEvent
from inbox.tests.factories import ChatMessageFactory, ConversationFactory
from inbox.tests.helpers import (
    IG_ACCOUNT_ID,
    IGSID,
    OTHER_PAGE_ID,
    OTHER_PSID,
    PAGE_ID,
    PSID,
    FakeGraph,
    load_fixture,
    post_webhook,
    run_on_commit,
)
from sandbox import payloads as p
from social.models import Platform, SocialAccount
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

Status = ChatMessage.Status
TEXT_MID = "m_Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"
ECHO_MID = "m_ZWNob19taWRfZnJvbV9zZW5kX2FwaQ"


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def publishes():
    """Broadcasts requested by webhook processing: (business_id, conversation_ids, message_ids)."""
    calls: list[tuple[int, tuple, tuple]] = []

    def record(*, business_id, conversation_ids=(), message_ids=(), pane_ids=None):
        calls.append((business_id, tuple(conversation_ids), tuple(message_ids)))

    with mock.patch("inbox.ingest.drain.publish_on_commit", side_effect=record):
        yield calls


@pytest.fixture
def ig_account(page):
    return SocialAccountFactory(
        business=page.business, platform=Platform.INSTAGRAM, account_id=IG_ACCOUNT_ID, account_name="bakery.rossi",
        page=page,
    )


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def at_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def send(client, *items, page_id=PAGE_ID, object_type="page"):
    body = p.encode(p.envelope(object_type=object_type, entries=[p.entry(account_id=page_id, events=list(items))]))
    response = post_webhook(client, body)
    assert response.status_code == 200
    return WebhookEvent.objects.order_by("-pk").first()


def snapshot():
    """Everything a replay must leave unchanged."""
    conversations = list(
        Conversation.objects.order_by("pk").values(
            "pk", "unread_count", "last_message_at", "last_message_preview", "last_inbound_at", "status",
            "delivered_watermark", "read_watermark", "participant_ids", "participant_names",
        )
    )
    messages = list(
        ChatMessage.objects.order_by("pk").values(
            "pk", "message_id", "status", "content", "reaction", "is_deleted", "edit_count", "extra", "timestamp",
            "delivered_at", "seen_at", "is_replied",
        )
    )
    return {
        "conversations": conversations,
        "messages": messages,
        "contacts": list(Contact.objects.order_by("pk").values("pk", "external_id", "name", "profile_state")),
        "attachments": list(Attachment.objects.order_by("pk").values("pk", "state", "file")),
        "pending": PendingMessageUpdate.objects.count(),
        "accounts": list(SocialAccount.objects.order_by("pk").values("pk", "last_webhook_at")),
    }


# --- text messages, contacts, conversations -------------------------------------------------------


def test_text_message_creates_contact_conversation_and_message(client, page, graph):
    post_webhook(client, load_fixture("message_text"))
    message = ChatMessage.objects.get()
    conversation = message.conversation
    assert message.business == page.business and message.account == page
    assert message.message_id == TEXT_MID
    assert message.direction == ChatMessage.Direction.INBOUND
    assert message.source == ChatMessage.Source.CUSTOMER
    assert message.status == Status.RECEIVED
    assert message.sender_id == PSID
    # Meta's time, not ours.
    assert message.timestamp == at_ms(1731580799876)
    assert conversation.business == page.business
    assert conversation.contact.external_id == PSID
    # The seed's participants: the customer, then the page's side.
    assert conversation.participant_ids == [PSID, PAGE_ID]
    assert conversation.participant_names[1] == page.account_name
    assert conversation.unread_count == 1
    assert conversation.last_message_at == at_ms(1731580799876)
    assert conversation.last_inbound_at == at_ms(1731580799876)
    assert conversation.last_message_preview.startswith("Un caf\u00e9 pour 2")
    assert conversation.last_message_direction == "inbound"
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.object_type == "page"
    assert event.account_ids == [PAGE_ID]
    assert event.attempts == 1
    assert event.processed_at is not None
    page.refresh_from_db()
    assert page.last_webhook_at == event.received_at


def test_a_second_message_updates_the_same_conversation(client, page):
    base = ms(datetime(2026, 1, 5, 10, tzinfo=UTC))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="one", timestamp_ms=base))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="two", timestamp_ms=base + 1000))
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 2
    assert conversation.last_message_preview == "two"
    assert conversation.last_message_at == at_ms(base + 1000)
    assert Contact.objects.count() == 1


def test_an_older_message_arriving_late_does_not_move_the_conversation_back(client, page):
    base = ms(datetime(2026, 1, 5, 10, tzinfo=UTC))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="newest", timestamp_ms=base))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="older", timestamp_ms=base - 60_000))
    conversation = Conversation.objects.get()
    assert conversation.last_message_at == at_ms(base)
    assert conversation.last_inbound_at == at_ms(base)
    assert conversation.last_message_preview == "newest"
    assert conversation.unread_count == 2


def test_the_sender_name_comes_from_the_profile(client, page, graph):
    post_webhook(client, load_fixture("message_text"))
    contact = Contact.objects.get()
    assert contact.name == "Giulia Bianchi"
    assert contact.profile_state == Contact.ProfileState.FETCHED
    assert Conversation.objects.get().participant_names == ["Giulia Bianchi", page.account_name]
    assert ChatMessage.objects.get().sender_name == "Giulia Bianchi"
    assert graph.profile_calls == [{"user_id": PSID, "platform": "FACEBOOK", "account": page}]
    # The next message from the same person asks nothing more.
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="again"))
    assert len(graph.profile_calls) == 1


def test_until_the_profile_is_known_the_contact_shows_its_id(client, page, graph):
    from social.graph import GraphPermissionError

    graph.profile = GraphPermissionError("User consent is required", code=200)
    post_webhook(client, load_fixture("message_text"))
    message = ChatMessage.objects.get()
    assert message.sender_name == PSID
    assert message.conversation.participant_names == [PSID, page.account_name]
    assert message.conversation.contact.display_name == PSID
    assert message.conversation.contact.profile_state == Contact.ProfileState.FAILED


def test_resolved_conversation_reopens_on_a_new_inbound_message(client, page):
    post_webhook(client, load_fixture("message_text"))
    Conversation.objects.update(status=Conversation.Status.RESOLVED)
    # A redelivery of the same message is not new: still resolved.
    post_webhook(client, load_fixture("message_text"))
    assert Conversation.objects.get().status == Conversation.Status.RESOLVED
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="hello again"))
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_string_seconds_timestamps(client, page):
    post_webhook(client, load_fixture("timestamps_string_seconds"))
    text = ChatMessage.objects.get(message_id="m_c3RyaW5nX3RzX21pZA")
    assert text.timestamp == datetime(2024, 11, 14, 10, 39, 59, tzinfo=UTC)
    postback = ChatMessage.objects.get(message_id="m_cG9zdGJhY2tfc3RyaW5nX3Rz")
    assert postback.kind == ChatMessage.Kind.POSTBACK
    assert postback.timestamp == at_ms(1527459824000)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


def test_quick_reply_payload_is_kept(client, page):
    post_webhook(client, load_fixture("message_quick_reply"))
    message = ChatMessage.objects.get()
    assert message.content == "Red"
    assert message.extra["quick_reply_payload"] == "COLOR_RED"


def test_reply_to_links_the_original_when_stored_and_always_keeps_its_mid(client, page):
    post_webhook(client, load_fixture("message_reply_to"))
    reply = ChatMessage.objects.get()
    assert reply.reply_to_mid == "m_b3JpZ2luYWxfbWlkXzk4NzY1"
    assert reply.reply_to is None

    original = ChatMessageFactory(conversation=reply.conversation, message_id="m_original_2")
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="this one", reply_to_mid="m_original_2"))
    second = ChatMessage.objects.get(content="this one")
    assert second.reply_to == original
    assert second.reply_to_mid == "m_original_2"


def test_platform_notices_do_not_hide_the_message(client, page):
    post_webhook(client, load_fixture("unknown_event"))
    # The opt-in is a line from Meta in the thread (inbox.ingest.notices), the message is stored.
    assert list(ChatMessage.objects.order_by("timestamp").values_list("kind", "content")) == [
        (ChatMessage.Kind.NOTICE, "The customer opted in: checkout-plugin"),
        (ChatMessage.Kind.MESSAGE, "Still there?"),
    ]
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert b"optin" in bytes(event.body)


def test_other_products_objects_are_processed_with_nothing_stored(client, page):
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": PAGE_ID, "changes": []}]}).encode()
    post_webhook(client, body)
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.count() == 0


# --- idempotency ----------------------------------------------------------------------------------


def test_duplicates_times_three_make_one_row(client, page):
    for _ in range(3):
        post_webhook(client, load_fixture("message_image"))
    assert ChatMessage.objects.count() == 1
    assert Attachment.objects.count() == 2
    assert Conversation.objects.get().unread_count == 1
    assert Contact.objects.count() == 1


def test_duplicates_inside_one_batch_make_one_row(client, page):
    item = p.text_message(page_id=PAGE_ID, psid=PSID, text="twice in one POST")
    send(client, item, item, item)
    assert ChatMessage.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


FIXTURES_FOR_REPLAY = [
    "message_text", "message_image", "message_sticker", "message_location", "message_fallback", "message_reply_to",
    "message_quick_reply", "postback", "referral", "message_echo_page_inbox", "message_template_echo",
    "message_nul_byte", "batched_entries", "unknown_event", "timestamps_string_seconds", "reaction_react",
    "message_edit", "delivery", "read",
]


def test_replay_of_processed_events_changes_nothing(client, page, other_page, publishes):
    outbound = ChatMessageFactory(
        conversation=ConversationFactory(contact__account=page, contact__external_id=PSID),
        direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX, status=Status.SENT,
        message_id=ECHO_MID, timestamp=at_ms(1731581000000), sent_at=at_ms(1731581000000),
    )
    for name in FIXTURES_FOR_REPLAY:
        post_webhook(client, load_fixture(name))
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    outbound.refresh_from_db()
    assert outbound.status == Status.READ  # the receipts did apply
    before = snapshot()
    publishes.clear()

    count = run_on_commit(webhook_events_replay, event_ids=WebhookEvent.objects.values_list("pk", flat=True))

    assert count == len(FIXTURES_FOR_REPLAY)
    assert snapshot() == before
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {2}
    assert publishes == []  # nothing changed, nothing to tell the browsers


def test_processing_a_processed_event_again_is_a_no_op(client, page):
    post_webhook(client, load_fixture("message_text"))
    event = WebhookEvent.objects.get()
    assert webhook_event_process(event_id=event.pk).state == WebhookEvent.State.PROCESSED
    event.refresh_from_db()
    assert event.attempts == 1
    assert webhook_event_process(event_id=123456789) is None


# --- tenancy and routing --------------------------------------------------------------------------


def test_a_batch_for_two_pages_of_two_businesses_goes_to_each_tenant(client, page, other_page, publishes):
    post_webhook(client, load_fixture("batched_entries"))
    ours = ChatMessage.objects.for_business(page.business)
    theirs = ChatMessage.objects.for_business(other_page.business)
    assert sorted(ours.values_list("content", flat=True)) == ["And tomorrow?", "Hi, are you open today?"]
    assert list(theirs.values_list("content", flat=True)) == ["Merci !"]
    assert set(ours.values_list("account", flat=True)) == {page.pk}
    assert set(theirs.values_list("account", flat=True)) == {other_page.pk}
    assert Conversation.objects.for_business(other_page.business).get().contact.external_id == OTHER_PSID
    assert Contact.objects.get(external_id=OTHER_PSID).business == other_page.business
    # One broadcast per business, with all of its ids.
    assert sorted(call[0] for call in publishes) == sorted([page.business_id, other_page.business_id])
    ours_call = next(call for call in publishes if call[0] == page.business_id)
    assert set(ours_call[2]) == set(ours.values_list("pk", flat=True))
    event = WebhookEvent.objects.get()
    assert event.account_ids == [PAGE_ID, OTHER_PAGE_ID]
    page.refresh_from_db()
    other_page.refresh_from_db()
    assert page.last_webhook_at == other_page.last_webhook_at == event.received_at


def test_an_unconnected_page_is_unroutable_until_it_connects(client, page, other_business, publishes):
    post_webhook(client, load_fixture("batched_entries"))
    event = WebhookEvent.objects.get()
    # Our page's events are applied; the other page is not connected (yet).
    assert event.state == WebhookEvent.State.UNROUTABLE
    assert event.unroutable_account_ids == [OTHER_PAGE_ID]
    assert OTHER_PAGE_ID in event.last_error
    assert ChatMessage.objects.count() == 2
    assert not ChatMessage.objects.filter(content="Merci !").exists()

    # Connecting another page replays nothing.
    unrelated = SocialAccountFactory(business=other_business, account_id="104857600777777")
    assert run_on_commit(webhook_events_replay_for_account, unrelated) == 0

    other_page = SocialAccountFactory(business=other_business, account_id=OTHER_PAGE_ID)
    assert run_on_commit(webhook_events_replay_for_account, other_page) == 1
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.unroutable_account_ids == []
    assert ChatMessage.objects.count() == 3
    assert ChatMessage.objects.get(content="Merci !").business == other_business
    assert Conversation.objects.get(account=page).unread_count == 2  # not counted twice
    # Calling it again is harmless.
    assert run_on_commit(webhook_events_replay_for_account, other_page) == 0


def test_an_instagram_id_is_not_routed_to_a_facebook_page_with_the_same_id(client, business):
    SocialAccountFactory(business=business, platform=Platform.FACEBOOK, account_id=IG_ACCOUNT_ID)
    post_webhook(client, load_fixture("instagram_text"))
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.UNROUTABLE
    assert ChatMessage.objects.count() == 0


def test_a_disconnected_page_gets_nothing_until_it_reconnects(client, page):
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.DISCONNECTED)
    post_webhook(client, load_fixture("message_text"))
    assert WebhookEvent.objects.get().state == WebhookEvent.State.UNROUTABLE
    assert ChatMessage.objects.count() == 0
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.ACTIVE)
    page.refresh_from_db()
    assert run_on_commit(webhook_events_replay_for_account, page) == 1
    assert ChatMessage.objects.get().account == page


def test_a_page_needing_reconnection_still_receives(client, page):
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    post_webhook(client, load_fixture("message_text"))
    assert ChatMessage.objects.count() == 1


# --- failures -------------------------------------------------------------------------------------


def test_one_failing_event_does_not_lose_the_others_and_a_replay_completes_it(client, page):
    items = [
        p.text_message(page_id=PAGE_ID, psid=PSID, text="first", timestamp_ms=1767000000000),
        p.postback(page_id=PAGE_ID, psid=PSID, timestamp_ms=1767000000100),
        p.text_message(page_id=PAGE_ID, psid=PSID, text="third", timestamp_ms=1767000000200),
    ]
    with mock.patch("inbox.ingest.drafts._postback", side_effect=ValueError("boom")):
        event = send(client, *items)
    assert event.state == WebhookEvent.State.FAILED
    assert "ValueError" in event.last_error and "boom" in event.last_error
    assert sorted(ChatMessage.objects.values_list("content", flat=True)) == ["first", "third"]

    run_on_commit(webhook_events_replay, event_ids=[event.pk])
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.last_error == ""
    assert event.attempts == 2
    assert ChatMessage.objects.count() == 3
    assert Conversation.objects.get().unread_count == 3


def test_an_unexpected_error_marks_the_event_failed(client, page):
    with mock.patch("inbox.ingest.drain.apply", side_effect=RuntimeError("bug")):
        post_webhook(client, load_fixture("message_text"))
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "RuntimeError: bug" in event.last_error
    assert event.attempts == 1


def test_database_outage_while_processing_is_retried_by_the_task(client, page):
    from inbox.ingest import drain

    real = drain.apply
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch("inbox.ingest.drain.apply", side_effect=flaky):
        post_webhook(client, load_fixture("message_text"))
    assert calls["n"] == 2
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.count() == 1


def test_database_outage_that_lasts_leaves_the_event_pending_for_the_requeue(client, page):
    with mock.patch("inbox.ingest.drain.apply", side_effect=OperationalError("down")):
        post_webhook(client, load_fixture("message_text"))
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PENDING
    assert ChatMessage.objects.count() == 0


# --- text the database refuses --------------------------------------------------------------------


def test_a_nul_byte_loses_nothing(client, page):
    post_webhook(client, load_fixture("message_nul_byte"))
    message = ChatMessage.objects.get()
    assert message.content == "before\ufffdafter \u05e9\u05dc\u05d5\u05dd"
    assert Conversation.objects.get().last_message_preview == "before\ufffdafter \u05e9\u05dc\u05d5\u05dd"


def test_lone_surrogates_and_nul_in_every_field_lose_nothing(client, page):
    body = (
        b'{"object":"page","entry":[{"id":"104857600123456","time":1767000000000,"messaging":['
        b'{"sender":{"id":"7012345678901234"},"recipient":{"id":"104857600123456"},"timestamp":1767000000000,'
        b'"message":{"mid":"m_bad\\u0000text","text":"half \\ud83d emoji \\u0000 end",'
        b'"quick_reply":{"payload":"P\\u0000\\udc00"}}},'
        b'{"sender":{"id":"7012345678901234"},"recipient":{"id":"104857600123456"},"timestamp":1767000000001,'
        b'"postback":{"title":"T\\u0000","payload":"\\ud800","referral":{"ref":"r\\u0000","source":"ADS"}}}]}]}'
    )
    post_webhook(client, body)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    message = ChatMessage.objects.get(kind=ChatMessage.Kind.MESSAGE)
    assert message.content == "half \ufffd emoji \ufffd end"
    assert message.message_id == "m_bad\ufffdtext"
    assert message.extra["quick_reply_payload"] == "P\ufffd\ufffd"
    postback = ChatMessage.objects.get(kind=ChatMessage.Kind.POSTBACK)
    assert postback.content == "T\ufffd"
    assert postback.extra == {"payload": "\ufffd", "referral": {"ref": "r\ufffd", "source": "ADS"}}


# --- echoes ---------------------------------------------------------------------------------------


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact__account=page, contact__external_id=PSID, unread_count=0)


def test_echo_of_our_send_matches_by_metadata_and_is_not_stored_again(client, page, conversation):
    ours = ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=Status.QUEUED, message_id=None, client_token="outbox:4f1c2b", content="We open at 9am.",
    )
    post_webhook(client, load_fixture("message_echo"))
    assert ChatMessage.objects.count() == 1
    ours.refresh_from_db()
    assert ours.message_id == ECHO_MID
    assert ours.status == Status.SENT
    assert ours.sent_at == at_ms(1731581100000)
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_echo_of_our_send_matches_by_mid(client, page, conversation):
    ours = ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=Status.SENT, message_id=ECHO_MID, client_token="some-other-token",
    )
    post_webhook(client, load_fixture("message_echo"))
    assert ChatMessage.objects.count() == 1
    ours.refresh_from_db()
    assert ours.status == Status.SENT


def test_echo_never_moves_a_delivered_message_back(client, page, conversation):
    ours = ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=Status.DELIVERED, message_id=None, client_token="outbox:4f1c2b",
    )
    post_webhook(client, load_fixture("message_echo"))
    ours.refresh_from_db()
    assert ours.status == Status.DELIVERED
    assert ours.message_id == ECHO_MID


def test_echo_proves_a_send_we_thought_failed(client, page, conversation):
    ours = ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=Status.FAILED, error="Read timeout", message_id=None, client_token="outbox:4f1c2b",
    )
    post_webhook(client, load_fixture("message_echo"))
    ours.refresh_from_db()
    assert ours.status == Status.SENT
    assert ours.error == ""


def test_reply_typed_in_meta_apps_becomes_an_outbound_message(client, page):
    post_webhook(client, load_fixture("message_text"))
    post_webhook(client, load_fixture("message_echo_page_inbox"))
    assert ChatMessage.objects.count() == 2
    echo = ChatMessage.objects.get(direction=ChatMessage.Direction.OUTBOUND)
    inbound = ChatMessage.objects.get(direction=ChatMessage.Direction.INBOUND)
    assert echo.conversation == inbound.conversation
    assert echo.source == ChatMessage.Source.META
    assert echo.status == Status.SENT
    assert echo.content == "Reply typed in Page Inbox"
    assert echo.sender_id == PAGE_ID
    assert echo.extra["standby"] is True
    conversation = echo.conversation
    assert conversation.unread_count == 1
    # The echo is older than the customer's message (2019 vs 2024): the preview stays.
    assert conversation.last_message_preview.startswith("Un caf\u00e9")
    # Duplicate echo: still one row.
    post_webhook(client, load_fixture("message_echo_page_inbox"))
    assert ChatMessage.objects.filter(direction=ChatMessage.Direction.OUTBOUND).count() == 1


def test_a_meta_app_reply_marks_earlier_customer_messages_replied(client, page):
    base = ms(datetime(2026, 2, 1, 9, tzinfo=UTC))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="question", timestamp_ms=base))
    send(client, p.echo(page_id=PAGE_ID, psid=PSID, text="answer", mid="m_answer", timestamp_ms=base + 5000))
    question = ChatMessage.objects.get(content="question")
    assert question.is_replied
    conversation = question.conversation
    assert conversation.last_message_preview == "answer"
    assert conversation.last_message_direction == "outbound"
    assert conversation.last_inbound_at == at_ms(base)


def test_an_echo_with_our_app_id_but_no_match_is_kept_as_ours(client, page, settings):
    send(client, p.echo(page_id=PAGE_ID, psid=PSID, text="from us", mid="m_ours", app_id=settings.FACEBOOK_APP_ID))
    assert ChatMessage.objects.get().source == ChatMessage.Source.INBOX


def test_template_echo_is_stored_with_its_payload(client, page):
    post_webhook(client, load_fixture("message_template_echo"))
    message = ChatMessage.objects.get()
    assert message.direction == ChatMessage.Direction.OUTBOUND
    attachment = message.attachments.get()
    assert attachment.type == "template"
    assert attachment.state == Attachment.State.SKIPPED
    assert attachment.payload["template_type"] == "button"
    assert attachment.payload["buttons"][1]["url"] == "https://example.com/hours"


# --- receipts -------------------------------------------------------------------------------------


def _outbound(conversation, mid, when, status=Status.SENT):
    return ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=status, message_id=mid, timestamp=when, sent_at=when if status != Status.QUEUED else None,
    )


def test_receipts_move_statuses_forward_only_whatever_their_order(client, page, conversation):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    m1 = _outbound(conversation, "m_one", t0)
    m2 = _outbound(conversation, "m_two", t0 + timedelta(minutes=1))
    m3 = _outbound(conversation, "m_three", t0 + timedelta(minutes=2))
    failed = _outbound(conversation, None, t0, status=Status.FAILED)
    queued = _outbound(conversation, None, t0, status=Status.QUEUED)

    def statuses():
        return [ChatMessage.objects.get(pk=m.pk).status for m in (m1, m2, m3, failed, queued)]

    # The read of m1..m2 arrives first …
    send(client, p.read(page_id=PAGE_ID, psid=PSID, watermark_ms=ms(t0 + timedelta(minutes=1))))
    assert statuses() == [Status.READ, Status.READ, Status.SENT, Status.FAILED, Status.QUEUED]
    # … then an older delivery receipt: nothing goes back.
    send(client, p.delivery(page_id=PAGE_ID, psid=PSID, mids=["m_one"], watermark_ms=ms(t0)))
    assert statuses() == [Status.READ, Status.READ, Status.SENT, Status.FAILED, Status.QUEUED]
    # A newer delivery moves m3 only.
    send(client, p.delivery(page_id=PAGE_ID, psid=PSID, mids=[], watermark_ms=ms(t0 + timedelta(minutes=2))))
    assert statuses() == [Status.READ, Status.READ, Status.DELIVERED, Status.FAILED, Status.QUEUED]
    # A late, older read does not lower the watermark.
    send(client, p.read(page_id=PAGE_ID, psid=PSID, watermark_ms=ms(t0)))
    conversation.refresh_from_db()
    assert conversation.read_watermark == t0 + timedelta(minutes=1)
    assert conversation.delivered_watermark == t0 + timedelta(minutes=2)
    assert statuses() == [Status.READ, Status.READ, Status.DELIVERED, Status.FAILED, Status.QUEUED]
    m3.refresh_from_db()
    assert m3.delivered_at == t0 + timedelta(minutes=2)
    m1.refresh_from_db()
    assert m1.seen_at == t0 + timedelta(minutes=1)


def test_delivery_by_mids_marks_exactly_those(client, page, conversation):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    named = _outbound(conversation, ECHO_MID, t0 + timedelta(days=1))  # sent after the watermark
    other = _outbound(conversation, "m_other", t0 + timedelta(days=1))
    post_webhook(client, load_fixture("delivery"))
    named.refresh_from_db()
    other.refresh_from_db()
    assert named.status == Status.DELIVERED
    assert other.status == Status.SENT


def test_receipts_for_an_unknown_customer_create_nothing(client, page):
    post_webhook(client, load_fixture("read"))
    post_webhook(client, load_fixture("delivery"))
    assert Conversation.objects.count() == 0
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}


def test_instagram_read_by_mid_marks_that_message_and_earlier_ones(client, ig_account):
    conversation = ConversationFactory(contact__account=ig_account, contact__external_id=IGSID)
    t0 = datetime(2024, 11, 14, 10, tzinfo=UTC)
    earlier = _outbound(conversation, "ig_earlier", t0)
    seen_mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOmVjaG8"
    named = _outbound(conversation, seen_mid, t0 + timedelta(minutes=1))
    later = _outbound(conversation, "ig_later", t0 + timedelta(minutes=5))
    post_webhook(client, load_fixture("instagram_read"))
    assert ChatMessage.objects.get(pk=earlier.pk).status == Status.READ
    assert ChatMessage.objects.get(pk=named.pk).status == Status.READ
    assert ChatMessage.objects.get(pk=later.pk).status == Status.SENT
    conversation.refresh_from_db()
    assert conversation.read_watermark == t0 + timedelta(minutes=1)


# --- reactions, edits, deletes --------------------------------------------------------------------


def test_reaction_then_unreact_on_our_message(client, page, conversation):
    ours = _outbound(conversation, ECHO_MID, datetime(2024, 11, 14, 10, tzinfo=UTC))
    post_webhook(client, load_fixture("reaction_react"))
    ours.refresh_from_db()
    assert ours.reaction == "\u2764\ufe0f"
    assert ours.extra["reaction"]["reaction"] == "love"
    post_webhook(client, load_fixture("reaction_unreact"))
    ours.refresh_from_db()
    assert ours.reaction == ""
    # The react arriving again late (older than the unreact) changes nothing.
    post_webhook(client, load_fixture("reaction_react"))
    ours.refresh_from_db()
    assert ours.reaction == ""


def test_reaction_edit_and_delete_before_the_message_arrives(client, page):
    mid = "m_late_arrival"
    t = 1767225600000
    send(client, p.reaction(page_id=PAGE_ID, psid=PSID, mid=mid, timestamp_ms=t + 1000))
    send(client, p.edit(page_id=PAGE_ID, psid=PSID, mid=mid, text="Red, please", timestamp_ms=t + 2000))
    # Redelivery of the reaction does not queue it twice.
    send(client, p.reaction(page_id=PAGE_ID, psid=PSID, mid=mid, timestamp_ms=t + 1000))
    assert PendingMessageUpdate.objects.count() == 2
    assert PendingMessageUpdate.objects.filter(business=page.business, account=page).count() == 2
    assert ChatMessage.objects.count() == 0

    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="Blue, please", mid=mid, timestamp_ms=t))
    message = ChatMessage.objects.get()
    assert message.reaction == "\u2764\ufe0f"
    assert message.content == "Red, please"
    assert message.extra["edits"][0]["text"] == "Blue, please"
    assert message.edit_count == 1
    assert PendingMessageUpdate.objects.count() == 0
    assert Conversation.objects.get().last_message_preview == "Red, please"


def test_delete_before_the_message_arrives(client, page):
    mid = "m_deleted_early"
    send(client, p.deleted(page_id=PAGE_ID, psid=PSID, mid=mid, timestamp_ms=1767225602000))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="oops", mid=mid, timestamp_ms=1767225600000))
    message = ChatMessage.objects.get()
    assert message.is_deleted
    assert message.content == ""  # purged, even when the unsend arrived first
    assert Conversation.objects.get().last_message_preview == "Message unsent"


def test_pending_updates_in_the_same_batch_as_the_message(client, page):
    mid = "m_same_batch"
    send(
        client,
        p.reaction(page_id=PAGE_ID, psid=PSID, mid=mid, timestamp_ms=1767225601000),
        p.text_message(page_id=PAGE_ID, psid=PSID, text="hi", mid=mid, timestamp_ms=1767225600000),
    )
    assert ChatMessage.objects.get().reaction == "\u2764\ufe0f"
    assert PendingMessageUpdate.objects.count() == 0


def test_edit_replaces_text_keeps_history_and_is_applied_once(client, page):
    send(client, p.text_message(
        page_id=PAGE_ID, psid=PSID, text="Blue", mid="m_Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A",
        timestamp_ms=1731581500000,
    ))
    for _ in range(2):
        post_webhook(client, load_fixture("message_edit"))
    message = ChatMessage.objects.get()
    assert message.content == "Red, please"
    assert message.edit_count == 1
    assert [edit["text"] for edit in message.extra["edits"]] == ["Blue"]
    # An older edit arriving after a newer one does not bring old text back.
    send(client, p.edit(page_id=PAGE_ID, psid=PSID, mid=message.message_id, text="Green", num_edit=3,
                        timestamp_ms=1731581700000))
    send(client, p.edit(page_id=PAGE_ID, psid=PSID, mid=message.message_id, text="Yellow", num_edit=2,
                        timestamp_ms=1731581650000))
    message.refresh_from_db()
    assert message.content == "Green"
    assert message.edit_count == 3


def test_instagram_unsend_marks_the_message_deleted(client, ig_account):
    send(client, p.text_message(page_id=IG_ACCOUNT_ID, psid=IGSID, text="secret",
                                mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw", timestamp_ms=1731581600000),
         page_id=IG_ACCOUNT_ID, object_type="instagram")
    post_webhook(client, load_fixture("instagram_deleted"))
    message = ChatMessage.objects.get()
    assert message.is_deleted
    assert message.conversation.last_message_preview == "Message unsent"


# --- postbacks, referrals, Instagram --------------------------------------------------------------


def test_postback_is_a_message_of_its_kind(client, page):
    post_webhook(client, load_fixture("postback"))
    message = ChatMessage.objects.get()
    assert message.kind == ChatMessage.Kind.POSTBACK
    assert message.message_id == "m_cG9zdGJhY2tfbWlk"
    assert message.content == "Talk to a human"
    assert message.extra["payload"] == "HANDOFF_HUMAN"
    assert message.extra["referral"]["ref"] == "spring-promo"
    assert message.conversation.last_message_preview == "Talk to a human"


def test_postback_without_mid_gets_a_stable_synthetic_mid(client, page):
    item = p.postback(page_id=PAGE_ID, psid=PSID, timestamp_ms=1767225600000)
    del item["postback"]["mid"]
    send(client, item)
    send(client, item)
    message = ChatMessage.objects.get()
    assert message.message_id == f"postback:{PSID}:1767225600000"


def test_referral_is_stored_once_with_its_data(client, page):
    for _ in range(2):
        post_webhook(client, load_fixture("referral"))
    message = ChatMessage.objects.get()
    assert message.kind == ChatMessage.Kind.REFERRAL
    assert message.content == "Opened the conversation from an ad"
    assert message.extra["ad_id"] == "120200000000000001"
    assert message.extra["ads_context_data"]["ad_title"] == "Winter sale"
    assert message.message_id == f"referral:{PSID}:1731581500000"
    send(client, p.referral(page_id=PAGE_ID, psid=PSID, ref="link", timestamp_ms=1731581600000))
    assert ChatMessage.objects.get(extra__ref="link").content == "Opened the conversation from a link"


def test_instagram_text_goes_to_the_instagram_account(client, page, ig_account, graph):
    post_webhook(client, load_fixture("instagram_text"))
    message = ChatMessage.objects.get()
    assert message.account == ig_account
    assert message.platform == Platform.INSTAGRAM
    assert message.content == "\u00bfSigue disponible? \U0001f64f\U0001f3fd"
    assert message.conversation.contact.external_id == IGSID
    assert graph.profile_calls[0]["platform"] == "INSTAGRAM"


def test_instagram_story_reply_and_mention_are_kept_in_extra(client, ig_account):
    post_webhook(client, load_fixture("instagram_story_reply"))
    post_webhook(client, load_fixture("instagram_story_mention"))
    reply = ChatMessage.objects.get(content="Is this still available?")
    assert reply.extra["reply_to_story"]["id"] == "17999999999999999"
    mention = ChatMessage.objects.exclude(pk=reply.pk).get()
    assert mention.extra["story_mention"]["url"].startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")
    assert mention.attachments.get().type == "story_mention"
    assert mention.conversation.last_message_preview == "Mentioned you in their story"


def test_instagram_echo_share_reel_and_unsupported(client, ig_account):
    for name in ("instagram_share", "instagram_reel", "instagram_unsupported", "instagram_echo"):
        post_webhook(client, load_fixture(name))
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert ChatMessage.objects.count() == 4
    unsupported = ChatMessage.objects.get(extra__is_unsupported=True)
    assert unsupported.content == ""
    echo = ChatMessage.objects.get(direction=ChatMessage.Direction.OUTBOUND)
    assert echo.content == "Yes! Pick-up from 9am \u2014 @ the counter"
    assert echo.source == ChatMessage.Source.META
    assert {a.type for a in Attachment.objects.all()} == {"share", "ig_reel"}


def test_a_single_failing_event_fails_the_webhook_event_and_a_replay_completes_it(client, page):
    with mock.patch("inbox.ingest.drafts._postback", side_effect=ValueError("boom")):
        post_webhook(client, load_fixture("postback"))
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "boom" in event.last_error
    assert ChatMessage.objects.count() == 0
    assert Conversation.objects.count() == 0  # rolled back as a whole
    run_on_commit(webhook_events_replay, event_ids=[event.pk])
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.get().kind == ChatMessage.Kind.POSTBACK
