"""Stickers wherever Meta names them, and Instagram's quick heart: shown as what they are, never downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from inbox.facebook.parsing import parse_body, parse_payload
from inbox.models import Attachment, ChatMessage
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, post_webhook
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
THUMBS_UP = "369239263222822"


def captured(name: str) -> bytes:
    return (CAPTURED / f"{name}.json").read_bytes()


def connect(business, raw: bytes, platform: str) -> None:
    for entry in json.loads(raw)["entry"]:
        SocialAccountFactory(business=business, platform=platform, account_id=str(entry["id"]))


@pytest.fixture
def graph():
    with FakeGraph() as fake:
        fake.profile = {"first_name": "Giulia", "last_name": "Bianchi"}
        yield fake


def detail(client_member, message: ChatMessage) -> str:
    return client_member.get(reverse("inbox:conversation_detail", args=[message.conversation.public_id])).content.decode()


# --- Messenger's old-style sticker: message.sticker_id beside an image ----------------------------


def test_a_sticker_named_at_message_level_only_is_parsed_as_a_sticker():
    [event] = parse_payload(parse_body(captured("messenger_sticker_message_level_only__febot"))).events
    [attachment] = event.attachments
    assert attachment.type == "sticker"
    assert attachment.sticker_id == THUMBS_UP
    assert attachment.url.startswith("https://scontent.xx.fbcdn.net/")


def test_the_message_level_id_is_not_given_to_one_of_several_images():
    # Which image would it name? Meta's sticker message has exactly one; anything else stays photos.
    body = {
        "object": "page",
        "entry": [
            {
                "id": "1",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": "2"},
                        "recipient": {"id": "1"},
                        "timestamp": 1700000000000,
                        "message": {
                            "mid": "m",
                            "sticker_id": int(THUMBS_UP),
                            "attachments": [
                                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/a.png"}},
                                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/b.png"}},
                            ],
                        },
                    }
                ],
            }
        ],
    }
    [event] = parse_payload(body).events
    assert [a.type for a in event.attachments] == ["image", "image"]


@pytest.mark.parametrize(
    "body", ["messenger_sticker_message_level_only__febot", "messenger_sticker_message_level__restfb"]
)
def test_a_sticker_is_stored_as_a_sticker_and_never_downloaded(client, business, graph, settings, body):
    raw = captured(body)
    connect(business, raw, Platform.FACEBOOK)

    post_webhook(client, raw)

    attachment = Attachment.objects.get()
    assert attachment.type == "sticker"
    assert attachment.state == Attachment.State.SKIPPED
    assert attachment.payload["sticker_id"] in (int(THUMBS_UP), THUMBS_UP, 56789012345678)
    assert graph.download_calls == []
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.*"))
    assert ChatMessage.objects.get().conversation.last_message_preview == "Sticker"


def test_a_sticker_is_rendered_as_a_sticker_not_a_photo(client, client_member, business, graph):
    raw = captured("messenger_sticker_message_level_only__febot")
    connect(business, raw, Platform.FACEBOOK)
    post_webhook(client, raw)

    html = detail(client_member, ChatMessage.objects.get())
    assert 'class="att att-sticker"' in html and "att-image" not in html
    # Shown from Meta's link (it carries no expiry), without the photo's "open full size" link.
    assert 'alt="👍"' in html
    assert reverse("inbox:attachment_download", args=[Attachment.objects.get().pk]) not in html


def test_the_like_sticker_is_the_emoji_once_its_link_is_gone(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    message = ChatMessageFactory(conversation=conversation, content="")
    AttachmentFactory(
        message=message,
        type="sticker",
        state=Attachment.State.SKIPPED,
        url="https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_n.png?oe=6760A1B2",
        payload={"sticker_id": int(THUMBS_UP)},
    )
    html = detail(client_member, message)
    assert 'aria-label="Thumbs up">👍</span>' in html
    assert "scontent.xx.fbcdn.net" not in html


# --- Instagram's quick heart ----------------------------------------------------------------------


def test_the_quick_heart_is_a_heart_in_the_list_and_the_thread(client, client_member, business, graph):
    raw = captured("instagram_like_heart__courier")
    connect(business, raw, Platform.INSTAGRAM)

    post_webhook(client, raw)

    message = ChatMessage.objects.get()
    attachment = message.attachments.get()
    assert (attachment.type, attachment.state, attachment.url) == ("like_heart", Attachment.State.SKIPPED, "")
    assert message.conversation.last_message_preview == "❤️"
    assert graph.download_calls == []
    html = detail(client_member, message)
    assert '<span class="att-emoji att-heart" role="img" aria-label="Heart">❤️</span>' in html
    assert "Attachment" not in html.split('class="att att-like_heart"')[1].split("</div>")[0]
