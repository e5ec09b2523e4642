"""What is stored for Instagram: Meta's link only by default, stories never, other media on the business's opt-in.

Meta's Instagram messaging rules ask apps not to store or cache story-mention media and to keep the
CDN link; the page shows the media from that link while it works, and says it expired after. The
operator's INBOX_STORE_MEDIA can forbid storing on a platform; a business can only opt in within it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import Attachment, ChatMessage
from inbox.services.media import link_expiry, media_stored
from inbox.tasks import attachment_download
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, load_fixture, post_webhook
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
BODIES = ("instagram_image__courier", "instagram_story_mention__courier")
LOOKASIDE = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18066666666666666&signature=MnOp"
# oe=6760A1B2: 2024-12-16 21:54:58 UTC, long gone.
EXPIRED_CDN = "https://scontent.cdninstagram.com/v/t51.2885-15/1_n.jpg?_nc_ht=x&oh=00_Ab&oe=6760A1B2"
# oe=7FFFFFFF: 2038-01-19, still to come.
LIVE_CDN = "https://scontent.cdninstagram.com/v/t51.2885-15/1_n.jpg?_nc_ht=x&oh=00_Ab&oe=7FFFFFFF"


def captured(name: str) -> bytes:
    return (CAPTURED / f"{name}.json").read_bytes()


@pytest.fixture
def graph():
    with FakeGraph() as fake:
        fake.profile = {"name": "Giulia", "username": "giulia"}  # no picture: storage holds media only
        yield fake


@pytest.fixture
def instagram(page):
    """The Instagram account the captured bodies are addressed to, connected to ``page``'s business."""
    ids = {entry["id"] for name in BODIES for entry in json.loads(captured(name))["entry"]}
    accounts = [
        SocialAccountFactory(business=page.business, platform=Platform.INSTAGRAM, account_id=i, page=page)
        for i in sorted(ids)
    ]
    return accounts[0]


@pytest.fixture
def queued():
    """Every attachment download queued (the task still runs, eagerly, as it would after commit)."""
    with mock.patch.object(attachment_download, "apply_async", wraps=attachment_download.apply_async) as spy:
        yield spy


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.mark.parametrize("body", BODIES)
def test_by_default_instagram_media_keeps_metas_link_and_nothing_is_downloaded(
    client, instagram, graph, queued, settings, body
):
    post_webhook(client, captured(body))

    attachment = Attachment.objects.get()
    assert attachment.state == Attachment.State.LINK
    assert attachment.url.startswith("https://")
    assert not attachment.file
    assert graph.download_calls == []
    assert not queued.called
    assert stored_files(settings) == []


def test_a_story_mention_is_never_downloaded_even_when_the_business_opted_in(
    client, instagram, graph, queued, settings
):
    instagram.business.instagram_media_store = True
    instagram.business.save()

    post_webhook(client, captured("instagram_story_mention__courier"))

    attachment = Attachment.objects.get()
    assert attachment.type == "story_mention"
    assert attachment.state == Attachment.State.LINK
    # A story lives 24 hours from when it was sent, whatever its link says.
    assert attachment.link_expires_at == attachment.message.timestamp + timedelta(hours=24)
    assert graph.download_calls == []
    assert not queued.called
    assert stored_files(settings) == []


def test_a_story_queued_for_download_is_still_never_fetched(client, instagram, graph, settings):
    # A row left pending by an earlier version (or edited by hand) reaches the task: it refuses.
    instagram.business.instagram_media_store = True
    instagram.business.save()
    post_webhook(client, captured("instagram_story_mention__courier"))
    Attachment.objects.update(state=Attachment.State.PENDING)

    attachment_download.delay(Attachment.objects.get().pk)

    assert Attachment.objects.get().state == Attachment.State.LINK
    assert graph.download_calls == []
    assert stored_files(settings) == []


def test_the_business_opt_in_stores_other_instagram_media(client, instagram, graph, settings):
    instagram.business.instagram_media_store = True
    instagram.business.save()

    post_webhook(client, captured("instagram_image__courier"))

    attachment = Attachment.objects.get()
    assert attachment.state == Attachment.State.STORED
    assert graph.download_calls == ["https://image-url/foo.png"]
    assert len(stored_files(settings)) == 1


def test_the_operator_switch_wins_over_the_opt_in(client, instagram, graph, settings):
    settings.INBOX_STORE_MEDIA = {"FACEBOOK": True, "INSTAGRAM": False}
    instagram.business.instagram_media_store = True
    instagram.business.save()

    post_webhook(client, captured("instagram_image__courier"))

    assert Attachment.objects.get().state == Attachment.State.LINK
    assert graph.download_calls == []


def test_the_opt_in_of_one_business_does_not_store_anothers_media(client, instagram, other_business, graph):
    other_business.instagram_media_store = True
    other_business.save()

    post_webhook(client, captured("instagram_image__courier"))

    assert Attachment.objects.get().state == Attachment.State.LINK
    assert graph.download_calls == []


def test_messenger_media_is_still_copied(client, page, graph, queued, settings):
    post_webhook(client, load_fixture("message_image"))

    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.STORED}
    assert queued.call_count == 2
    assert len(stored_files(settings)) == 2


@pytest.mark.parametrize(
    ("platform", "kind", "opted_in", "stored"),
    [
        ("FACEBOOK", "image", False, True),
        ("FACEBOOK", "story_mention", False, True),  # not a Messenger kind; Messenger stores media
        ("INSTAGRAM", "image", False, False),
        ("INSTAGRAM", "image", True, True),
        ("INSTAGRAM", "video", True, True),
        ("INSTAGRAM", "story_mention", True, False),
        ("INSTAGRAM", "ig_story", True, False),
    ],
)
def test_what_is_stored(platform, kind, opted_in, stored):
    assert media_stored(platform=platform, attachment_type=kind, instagram_opted_in=opted_in) is stored


# --- when Meta's link expires -------------------------------------------------------------------


def test_the_expiry_is_read_from_the_links_signature():
    assert link_expiry(EXPIRED_CDN) == datetime(2024, 12, 16, 21, 54, 58, tzinfo=UTC)
    assert link_expiry(LIVE_CDN) == datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        LOOKASIDE,  # Instagram's messaging links carry no expiry
        "https://scontent.xx.fbcdn.net/v/1_n.jpg?oe=not-hex",
        "https://scontent.xx.fbcdn.net/v/1_n.jpg?oe=" + "F" * 40,  # past any date
        "",
        "not a url at all",
    ],
)
def test_a_link_without_a_readable_expiry_has_none(url):
    assert link_expiry(url) is None


def test_a_story_expires_a_day_after_it_was_sent_or_sooner_if_its_link_says_so():
    sent = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert link_expiry(LOOKASIDE, attachment_type="story_mention", sent_at=sent) == sent + timedelta(hours=24)
    assert link_expiry(EXPIRED_CDN, attachment_type="story_mention", sent_at=sent) == datetime(
        2024, 12, 16, 21, 54, 58, tzinfo=UTC
    )


def _message(page, **fields):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    return ChatMessageFactory(conversation=conversation, content="", **fields)


def _page(client_member, message) -> str:
    return client_member.get(reverse("inbox:conversation_detail", args=[message.conversation.public_id])).content.decode()


def test_link_only_media_is_shown_from_metas_link_while_it_lives(client_member, page):
    message = _message(page)
    AttachmentFactory(
        message=message, type="image", state=Attachment.State.LINK, url=LIVE_CDN, link_expires_at=link_expiry(LIVE_CDN)
    )
    html = _page(client_member, message)
    assert f'<img src="{LIVE_CDN.replace("&", "&amp;")}"' in html
    assert "expired" not in html.split('class="att att-image"')[1].split("</div>")[0]


def test_link_only_media_says_it_expired_once_its_link_has(client_member, page):
    message = _message(page)
    AttachmentFactory(
        message=message,
        type="image",
        state=Attachment.State.LINK,
        url=EXPIRED_CDN,
        link_expires_at=link_expiry(EXPIRED_CDN),
    )
    AttachmentFactory(
        message=message,
        type="video",
        state=Attachment.State.LINK,
        url=LOOKASIDE,
        link_expires_at=timezone.now() - timedelta(minutes=1),
    )
    html = _page(client_member, message)
    assert "scontent.cdninstagram.com" not in html and "lookaside.fbsbx.com" not in html
    assert "Photo expired on Meta's servers" in html
    assert "Video expired on Meta's servers" in html


def test_a_story_mention_is_shown_for_a_day_then_said_to_be_gone(client_member, page):
    fresh = _message(page, timestamp=timezone.now() - timedelta(hours=2), extra={"story_mention": {"url": LOOKASIDE}})
    AttachmentFactory(
        message=fresh,
        type="story_mention",
        state=Attachment.State.LINK,
        url=LOOKASIDE,
        link_expires_at=fresh.timestamp + timedelta(hours=24),
    )
    html = _page(client_member, fresh)
    assert f'<img src="{LOOKASIDE.replace("&", "&amp;")}"' in html
    assert "The story is no longer available" not in html

    old = _message(page, timestamp=timezone.now() - timedelta(hours=25), extra={"story_mention": {"url": LOOKASIDE}})
    AttachmentFactory(
        message=old,
        type="story_mention",
        state=Attachment.State.LINK,
        url=LOOKASIDE,
        link_expires_at=old.timestamp + timedelta(hours=24),
    )
    html = _page(client_member, old)
    assert "lookaside.fbsbx.com" not in html
    assert "The story is no longer available" in html


def test_a_message_is_stored_with_its_link_only_attachment(client, instagram, graph):
    # The message itself is unaffected by the media policy.
    post_webhook(client, captured("instagram_image__courier"))
    message = ChatMessage.objects.get()
    assert message.media_urls == ["https://image-url/foo.png"]
    assert message.conversation.last_message_preview == "Photo"


# --- where a business makes the choice ----------------------------------------------------------


def test_an_admin_sees_the_warning_and_opts_in(client_member, business, other_business):
    from accounts.models import AuditEvent

    url = reverse("accounts:business_settings")
    html = client_member.get(url).content.decode()
    assert "Meta's Instagram messaging rules ask apps not to store or cache" in html
    assert "Story mentions are never stored" in html

    response = client_member.post(url, {"instagram_media_store": "on"})

    assert response.status_code == 302
    business.refresh_from_db()
    other_business.refresh_from_db()
    assert business.instagram_media_store is True
    assert other_business.instagram_media_store is False
    event = AuditEvent.objects.get(action="business.instagram_media_store_changed")
    assert (event.business_id, event.metadata) == (business.pk, {"instagram_media_store": True})

    client_member.post(url, {})  # an unticked box is "off"
    business.refresh_from_db()
    assert business.instagram_media_store is False


def test_an_agent_cannot_change_what_is_stored(client, business):
    from accounts.models import Membership
    from accounts.tests.factories import MembershipFactory

    agent = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example").user
    client.force_login(agent)

    assert client.post(reverse("accounts:business_settings"), {"instagram_media_store": "on"}).status_code == 403
    business.refresh_from_db()
    assert business.instagram_media_store is False


def test_when_the_operator_forbids_it_the_choice_is_shown_but_not_offered(client_member, business, settings):
    settings.INBOX_STORE_MEDIA = {"FACEBOOK": True, "INSTAGRAM": False}
    url = reverse("accounts:business_settings")
    html = client_member.get(url).content.decode()
    assert "switched off for this installation" in html
    assert "disabled" in html.split('name="instagram_media_store"')[1].split(">")[0]

    client_member.post(url, {"instagram_media_store": "on"})
    business.refresh_from_db()
    assert business.instagram_media_store is False
