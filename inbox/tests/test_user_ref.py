"""Chat plugin visitors known by ``user_ref``: their own conversation, merged into the PSID's later.

Bodies: the chat plugin postback a user pasted in restfb/restfb#1158 (``sender.user_ref`` only, in the
captured corpus), and RestFB's published opt-in fixture that carries ``sender.id`` next to
``optin.user_ref`` (``messenger_optin_user_ref_with_sender__restfb.json``). No published pair names
the same person, so where a test links the two, the opt-in's page id and reference are replaced by
the postback's, and the message that links them is built with the sandbox's Meta-shaped builder
(``sender`` with both ``id`` and ``user_ref``, as Meta's sender table documents for the chat plugin).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.facebook.events import MessageEvent, Postback
from inbox.facebook.parsing import parse_body, parse_payload
from inbox.ingest.drain import webhook_event_process
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.reply_window import reply_window
from inbox.services.contacts import user_ref_key
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, post_webhook, process_at_once
from sandbox import payloads as p
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
POSTBACK = "messenger_postback_user_ref__restfb-issue-1158.json"
OPTIN = "messenger_optin_user_ref_with_sender__restfb.json"
PAGE_ID = "124924473551"
USER_REF = "105917555039643"
PSID = "987654321432"  # the opt-in's sender
TAPPED_AT = datetime.fromtimestamp(1622440770209 / 1000, tz=UTC)


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def chat_page(business):
    return SocialAccountFactory(business=business, account_id=PAGE_ID, account_name="XYZ")


def captured(name: str) -> bytes:
    return (CAPTURED / name).read_bytes()


def linking_optin(*, timestamp: int = 1622440800) -> bytes:
    """RestFB's opt-in (sender.id + optin.user_ref), on the postback's page and with its reference."""
    data = json.loads(captured(OPTIN))
    entry = data["entry"][0]
    entry["id"] = PAGE_ID
    item = entry["messaging"][0]
    item["recipient"]["id"] = PAGE_ID
    item["timestamp"] = timestamp
    item["optin"]["user_ref"] = USER_REF
    return json.dumps(data).encode()


def linking_message(
    *, text: str = "Hi, I wrote you from your website", mid: str = "m_bGlua2Vk", offset_ms: int = 60_000
):
    item = p.text_message(page_id=PAGE_ID, psid=PSID, text=text, mid=mid, timestamp_ms=1622440770209 + offset_ms)
    item["sender"]["user_ref"] = USER_REF
    return item


def send(client, body: bytes) -> WebhookEvent:
    assert post_webhook(client, body).status_code == 200
    event = WebhookEvent.objects.order_by("-pk").first()
    assert event.state == WebhookEvent.State.PROCESSED, event.last_error
    return event


def send_items(client, *items) -> WebhookEvent:
    return send(
        client, p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))
    )


def visitor_postback(*, timestamp_ms: int, title: str = "Menu") -> dict:
    return {
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp_ms,
        "sender": {"user_ref": USER_REF},
        "postback": {"payload": "MENU", "title": title},
    }


def state():
    return {
        "contacts": list(Contact.objects.order_by("pk").values("pk", "external_id", "user_ref")),
        "conversations": list(
            Conversation.objects.order_by("pk").values(
                "pk", "contact_id", "unread_count", "last_message_at", "last_message_preview", "last_inbound_at"
            )
        ),
        "messages": list(ChatMessage.objects.order_by("pk").values("pk", "conversation_id", "message_id")),
    }


# --- parsing ------------------------------------------------------------------------------------------


def test_a_postback_known_by_user_ref_parses_with_the_reference():
    result = parse_payload(parse_body(captured(POSTBACK)))

    assert result.skipped == []
    [event] = result.events
    assert isinstance(event, Postback)
    assert event.sender_id == ""
    assert event.user_ref == USER_REF


def test_a_message_with_both_ids_keeps_the_psid_and_the_reference():
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=[linking_message()])]))
    [event] = parse_payload(parse_body(body)).events

    assert isinstance(event, MessageEvent)
    assert (event.sender_id, event.user_ref) == (PSID, USER_REF)


# --- the visitor's own conversation ---------------------------------------------------------------------


def test_a_chat_plugin_postback_is_stored_in_the_visitors_conversation(client, chat_page, graph):
    send(client, captured(POSTBACK))

    message = ChatMessage.objects.get()
    assert message.kind == ChatMessage.Kind.POSTBACK
    assert message.extra["payload"] == "hey"
    assert message.extra["referral"]["source"] == "CUSTOMER_CHAT_PLUGIN"
    assert message.timestamp == TAPPED_AT
    contact = message.conversation.contact
    assert contact.external_id == user_ref_key(USER_REF)
    assert contact.user_ref == USER_REF
    assert contact.display_name == "Website chat visitor"
    conversation = message.conversation
    assert conversation.unread_count == 1
    assert conversation.last_inbound_at == TAPPED_AT
    # Meta has no profile for a reference: nothing is asked.
    assert graph.profile_calls == []


def test_the_visitors_conversation_cannot_be_replied_to_yet(client, chat_page):
    send(client, captured(POSTBACK))

    conversation = Conversation.objects.select_related("account").get()
    window = reply_window(conversation=conversation, now=TAPPED_AT + timedelta(minutes=5))
    assert window.allowed is False
    assert "chat plugin" in window.reason


def test_redelivering_the_postback_stores_it_once(client, chat_page):
    send(client, captured(POSTBACK))
    send(client, captured(POSTBACK))

    assert ChatMessage.objects.count() == 1
    assert Contact.objects.count() == 1


def test_two_visitors_tapping_at_the_same_moment_are_two_people(client, chat_page):
    other = visitor_postback(timestamp_ms=1622440770209)
    other["sender"]["user_ref"] = "205917555039643"
    send(client, captured(POSTBACK))
    send_items(client, other)

    assert Contact.objects.count() == 2
    assert ChatMessage.objects.count() == 2


# --- merged into the PSID's conversation ----------------------------------------------------------------


def test_an_optin_naming_the_psid_and_the_reference_merges_the_visitor(client, chat_page):
    send(client, captured(POSTBACK))
    visitor = Contact.objects.get()

    send(client, linking_optin())

    assert not Contact.objects.filter(pk=visitor.pk).exists()
    contact = Contact.objects.get(external_id=PSID)
    assert contact.user_ref == USER_REF
    conversation = Conversation.objects.get(contact=contact)
    assert Conversation.objects.count() == 1
    postback = ChatMessage.objects.get(kind=ChatMessage.Kind.POSTBACK)
    assert postback.conversation_id == conversation.pk
    assert conversation.unread_count == 1
    assert conversation.last_inbound_at == TAPPED_AT
    assert conversation.participant_ids == [PSID, PAGE_ID]


def test_a_message_with_both_ids_merges_the_visitor_and_counts_both(client, chat_page):
    send(client, captured(POSTBACK))
    send_items(client, linking_message())

    conversation = Conversation.objects.get()
    assert conversation.contact.external_id == PSID
    assert conversation.contact.user_ref == USER_REF
    assert list(conversation.messages.order_by("timestamp").values_list("kind", flat=True)) == ["postback", "message"]
    assert conversation.unread_count == 2
    assert conversation.last_message_preview == "Hi, I wrote you from your website"
    assert conversation.last_message_direction == ChatMessage.Direction.INBOUND
    # Known by a PSID now: replies go through as to any customer.
    assert reply_window(conversation=conversation, now=TAPPED_AT + timedelta(minutes=5)).state == "open"


def test_the_visitor_and_the_link_in_one_body_end_in_one_conversation(client, chat_page):
    body = json.loads(captured(POSTBACK))
    body["entry"][0]["messaging"].append(linking_message())
    send(client, json.dumps(body).encode())

    assert Contact.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.contact.external_id == PSID
    assert conversation.messages.count() == 2
    assert conversation.unread_count == 2


def test_the_merge_keeps_the_newest_list_row_and_adds_the_counters(client, chat_page):
    send(client, captured(POSTBACK))
    psid_contact = ContactFactory(account=chat_page, business=chat_page.business, external_id=PSID)
    earlier = datetime(2021, 5, 1, tzinfo=UTC)
    psid_conversation = ConversationFactory(
        contact=psid_contact,
        account=chat_page,
        business=chat_page.business,
        last_message_at=earlier,
        last_message_preview="An old question",
        last_message_direction="inbound",
        last_inbound_at=earlier,
        unread_count=3,
        status=Conversation.Status.RESOLVED,
        priority=Conversation.Priority.HIGH,
    )
    ChatMessageFactory(conversation=psid_conversation, timestamp=earlier)
    Conversation.objects.exclude(pk=psid_conversation.pk).update(read_watermark=TAPPED_AT)

    send(client, linking_optin())

    psid_conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert psid_conversation.unread_count == 4
    assert psid_conversation.last_message_at == TAPPED_AT
    assert psid_conversation.last_message_preview == "hey"
    assert psid_conversation.last_inbound_at == TAPPED_AT
    assert psid_conversation.read_watermark == TAPPED_AT
    assert psid_conversation.priority == Conversation.Priority.HIGH
    # The visitor's conversation was open: the merged one is too.
    assert psid_conversation.status == Conversation.Status.OPEN
    assert psid_conversation.messages.exclude(kind="notice").count() == 2  # and the opt-in's own line


def test_redelivering_the_link_changes_nothing(client, chat_page):
    send(client, captured(POSTBACK))
    send(client, linking_optin())
    before = state()

    send(client, linking_optin())
    send(client, captured(POSTBACK))

    assert state() == before


def test_after_the_merge_the_visitors_taps_go_to_the_psids_conversation(client, chat_page):
    send(client, captured(POSTBACK))
    send(client, linking_optin())

    send_items(client, visitor_postback(timestamp_ms=1622440900000, title="Opening hours"))

    assert Contact.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.contact.external_id == PSID
    assert conversation.messages.filter(kind=ChatMessage.Kind.POSTBACK).count() == 2
    assert conversation.last_message_preview == "Opening hours"


def test_a_reference_of_another_page_is_not_merged(client, chat_page, business):
    other_page = SocialAccountFactory(business=business, account_id="124924400000")
    send(client, captured(POSTBACK))
    body = json.loads(linking_optin())
    body["entry"][0]["id"] = other_page.account_id
    body["entry"][0]["messaging"][0]["recipient"]["id"] = other_page.account_id

    send(client, json.dumps(body).encode())

    visitor = Contact.objects.get(account=chat_page)
    assert visitor.external_id == user_ref_key(USER_REF)
    assert ChatMessage.objects.get(kind=ChatMessage.Kind.POSTBACK).conversation.contact_id == visitor.pk


def test_a_plain_message_costs_no_extra_query_for_references(client, chat_page):
    send_items(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="warm up", timestamp_ms=1622440770000))
    with CaptureQueriesContext(connection) as queries:
        send_items(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="again", timestamp_ms=1622440771000))

    assert not [q for q in queries.captured_queries if '"user_ref" IN' in q["sql"]]


# --- two workers at once (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_two_links_of_the_same_visitor_at_once_merge_once():
    from accounts.tests.factories import BusinessFactory

    page = SocialAccountFactory(business=BusinessFactory(), account_id=PAGE_ID)
    with FakeGraph():
        webhook_event_process(event_id=WebhookEvent.objects.create(body=captured(POSTBACK)).pk)
    optin = WebhookEvent.objects.create(body=linking_optin())
    message = WebhookEvent.objects.create(
        body=p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=[linking_message()])]))
    )

    assert process_at_once(optin.pk, message.pk) == []

    # A worker that lost the race to the unique constraints applies its event again on its own.
    for event in (optin, message):
        event.refresh_from_db()
        if event.state != WebhookEvent.State.PROCESSED:
            with FakeGraph():
                webhook_event_process(event_id=event.pk)
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    contact = Contact.objects.get(account=page)
    assert (contact.external_id, contact.user_ref) == (PSID, USER_REF)
    conversation = Conversation.objects.get(account=page)
    assert list(conversation.messages.exclude(kind="notice").order_by("timestamp").values_list("kind", flat=True)) == [
        "postback",
        "message",
    ]
    assert conversation.unread_count == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_the_same_link_processed_by_two_workers_at_once_merges_once():
    from accounts.tests.factories import BusinessFactory

    page = SocialAccountFactory(business=BusinessFactory(), account_id=PAGE_ID)
    with FakeGraph():
        webhook_event_process(event_id=WebhookEvent.objects.create(body=captured(POSTBACK)).pk)
    link = WebhookEvent.objects.create(
        body=p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=[linking_message()])]))
    )

    assert process_at_once(link.pk, link.pk, link.pk) == []

    link.refresh_from_db()
    assert link.state == WebhookEvent.State.PROCESSED
    assert Contact.objects.filter(account=page).count() == 1
    assert Conversation.objects.get(account=page).unread_count == 2
