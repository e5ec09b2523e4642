"""The documents carry every field of the seed's collections, in its camelCase names, and never a token."""

from __future__ import annotations

import json

import pytest

from api.documents import account_document, conversation_document, message_document
from inbox.tests.factories import ChatMessageFactory
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

SEED_ACCOUNT_FIELDS = [
    "platform", "accountId", "accountName", "expiresAt", "settings", "category", "tasks", "followersCount",
    "pictureUrl", "isActive", "status", "connectedAt", "lastWebhookAt", "business",
]
SEED_CONVERSATION_FIELDS = [
    "platform", "account", "participantIds", "participantNames", "lastMessageAt", "unreadCount", "isActive",
    "business", "status", "priority",
]
SEED_MESSAGE_FIELDS = [
    "platform", "account", "messageId", "senderId", "senderName", "content", "mediaUrls", "timestamp", "status",
    "isRead", "isReplied", "business", "direction", "conversation",
]


def test_account_document_has_the_seed_fields_and_no_token(page):
    page.settings = {
        "profile": {"id": "10215241773831025", "name": "Marco Rossi", "email": "marco@example.com", "picture": ""},
        "pages": {"id": page.account_id, "name": "Bakery Rossi", "access_token": "EAAB-should-never-show"},
    }
    page.access_token = "EAAB-page-token-secret"
    page.save()
    document = account_document(page)
    for field in SEED_ACCOUNT_FIELDS:
        assert field in document, field
    assert document["id"] == str(page.public_id)
    assert document["platform"] in ("FACEBOOK", "INSTAGRAM")
    assert set(document["settings"]) == {"profile", "pages"}
    assert document["settings"]["profile"]["name"] == "Marco Rossi"
    assert document["settings"]["pages"]["name"] == "Bakery Rossi"
    assert document["business"] == page.business.slug
    text = json.dumps(document)
    assert "EAAB" not in text and "access_token" not in text


def test_instagram_account_names_its_page(page):
    instagram = SocialAccountFactory(business=page.business, platform="INSTAGRAM", account_id="17841400000000000",
                                     page=page)
    document = account_document(instagram)
    assert (document["platform"], document["page"]) == ("INSTAGRAM", str(page.public_id))


def test_conversation_and_message_documents_have_the_seed_fields(conversation):
    document = conversation_document(conversation)
    for field in SEED_CONVERSATION_FIELDS:
        assert field in document, field
    assert document["id"] == str(conversation.public_id)
    assert document["account"] == str(conversation.account.public_id)
    message = ChatMessageFactory(conversation=conversation, media_urls=["https://cdn.example/a.jpg"])
    document = message_document(message)
    for field in SEED_MESSAGE_FIELDS:
        assert field in document, field
    assert document["conversation"] == str(conversation.public_id)
    assert document["mediaUrls"] == ["https://cdn.example/a.jpg"]
    # No integer key anywhere: every reference is a public id (UUID) or the business's slug.
    for value in (document["id"], document["account"], document["conversation"]):
        assert len(value) == 36
    json.dumps(document)  # plain JSON, for the API and outbound webhooks alike


def test_public_ids_are_unique_per_row(conversation):
    other = ChatMessageFactory(conversation=conversation)
    first = conversation.messages.exclude(pk=other.pk).first()
    assert first.public_id != other.public_id
