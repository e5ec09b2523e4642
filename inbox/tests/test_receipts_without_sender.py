"""Receipts without a sender: Instagram's read names only the message seen, and is applied through it.

The body is RestFB's published Instagram ``messaging_seen`` fixture (``instagram_seen__restfb.json``
in the captured corpus) with its ``sender`` left out: the shape Instagram sends (``timestamp`` and
``read.mid`` only), with RestFB's ids and times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inbox.models import ChatMessage, Conversation, WebhookEvent
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, post_webhook
from sandbox import payloads as p
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
IG_ID = "17841452691600098"  # entry.id of the published body
IGSID = "5614879045272581"  # its sender.id, the customer
SEEN_AT = datetime.fromtimestamp(1668022333735 / 1000, tz=UTC)
Status = ChatMessage.Status


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def ig_account(business):
    return SocialAccountFactory(
        business=business, platform=Platform.INSTAGRAM, account_id=IG_ID, account_name="bakery.rossi"
    )


def senderless_read(mid: str = "MESSAGE-ID", *, recipient: bool = True) -> bytes:
    data = json.loads((CAPTURED / "instagram_seen__restfb.json").read_bytes())
    item = data["entry"][0]["messaging"][0]
    del item["sender"]
    if not recipient:
        del item["recipient"]
    item["read"]["mid"] = mid
    return json.dumps(data).encode()


def reply(account, *, mid: str, status: str = Status.SENT, minutes_before: int = 5, external_id: str = IGSID):
    conversation = Conversation.objects.filter(account=account, contact__external_id=external_id).first()
    if conversation is None:
        contact = ContactFactory(account=account, business=account.business, external_id=external_id)
        conversation = ConversationFactory(contact=contact, account=account, business=account.business)
    sent = datetime.fromtimestamp(SEEN_AT.timestamp() - minutes_before * 60, tz=UTC)
    return ChatMessageFactory(
        conversation=conversation,
        direction=ChatMessage.Direction.OUTBOUND,
        message_id=mid,
        status=status,
        timestamp=sent,
        sent_at=sent,
    )


def test_an_instagram_read_without_sender_marks_the_named_message_read(client, ig_account):
    earlier = reply(ig_account, mid="aWdfZWFybGllcg", minutes_before=10)
    seen = reply(ig_account, mid="MESSAGE-ID")

    assert post_webhook(client, senderless_read()).status_code == 200

    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    seen.refresh_from_db()
    earlier.refresh_from_db()
    assert seen.status == Status.READ
    assert seen.seen_at == SEEN_AT
    # Everything sent before the message seen was read too.
    assert earlier.status == Status.READ
    conversation = seen.conversation
    conversation.refresh_from_db()
    assert conversation.read_watermark == seen.sent_at
    assert ChatMessage.objects.count() == 2  # a receipt adds no message


def test_a_read_with_neither_sender_nor_recipient_is_applied_by_the_entry_and_the_mid(client, ig_account):
    """A delivery captured from Meta (published in a debug script, not citable) had only timestamp and read.mid."""
    seen = reply(ig_account, mid="MESSAGE-ID")

    assert post_webhook(client, senderless_read(recipient=False)).status_code == 200

    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    seen.refresh_from_db()
    assert seen.status == Status.READ and seen.seen_at == SEEN_AT


def test_the_message_is_looked_up_only_in_the_account_the_entry_routed_to(client, ig_account, other_business):
    elsewhere = SocialAccountFactory(
        business=other_business, platform=Platform.INSTAGRAM, account_id="17841400000000999"
    )
    theirs = reply(elsewhere, mid="MESSAGE-ID")
    mine = reply(ig_account, mid="aWdfbWluZQ")

    post_webhook(client, senderless_read())

    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.status == Status.SENT
    assert mine.status == Status.SENT
    assert Conversation.objects.filter(read_watermark__isnull=False).count() == 0


def test_a_read_naming_a_message_we_do_not_have_changes_nothing(client, ig_account):
    ours = reply(ig_account, mid="aWdfb3Vycw")

    post_webhook(client, senderless_read("aWdfdW5rbm93bg"))

    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    ours.refresh_from_db()
    assert ours.status == Status.SENT
    assert Conversation.objects.get().read_watermark is None


def test_a_repeated_receipt_changes_nothing(client, ig_account):
    seen = reply(ig_account, mid="MESSAGE-ID")
    post_webhook(client, senderless_read())
    seen.refresh_from_db()
    before = (seen.status, seen.seen_at, seen.updated_at)

    post_webhook(client, senderless_read())

    seen.refresh_from_db()
    assert (seen.status, seen.seen_at, seen.updated_at) == before


def test_a_delivery_without_sender_moves_the_named_messages(client, page):
    sent = reply(page, mid="m_ZGVsaXZlcmVk", external_id="7012345678901234")
    item = p.delivery(page_id=page.account_id, psid="x", mids=["m_ZGVsaXZlcmVk"], watermark_ms=0)
    del item["sender"]
    del item["delivery"]["watermark"]
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=page.account_id, events=[item])]))

    post_webhook(client, body)

    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
