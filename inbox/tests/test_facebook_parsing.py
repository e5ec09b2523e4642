from __future__ import annotations

import dataclasses
import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypedDict

import pytest

from inbox.facebook.events import (
    Attachment,
    Delivery,
    Event,
    MessageDeleted,
    MessageEdit,
    MessageEvent,
    OptIn,
    Platform,
    PolicyEnforcement,
    Postback,
    Reaction,
    Read,
    Referral,
)
from inbox.facebook.parsing import (
    ParseResult,
    PayloadError,
    parse_body,
    parse_payload,
    parse_timestamp,
)

FIXTURES = Path(__file__).parent / "fixtures" / "facebook"

PAGE = "104857600123456"
PAGE_2 = "104857600654321"
IG_ACCOUNT = "17841400000000000"
PSID = "7012345678901234"
PSID_2 = "7098765432109876"
IGSID = "987654321098765"


class Parties(TypedDict):
    """The routing fields shared by every expected event, so tests spell out only what differs."""

    platform: Platform
    account_id: str
    sender_id: str
    recipient_id: str


FROM_CUSTOMER: Parties = {"platform": "FACEBOOK", "account_id": PAGE, "sender_id": PSID, "recipient_id": PAGE}
FROM_PAGE: Parties = {"platform": "FACEBOOK", "account_id": PAGE, "sender_id": PAGE, "recipient_id": PSID}
FROM_IG_CUSTOMER: Parties = {
    "platform": "INSTAGRAM",
    "account_id": IG_ACCOUNT,
    "sender_id": IGSID,
    "recipient_id": IG_ACCOUNT,
}

IG_CDN = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id="


def load_fixture(name: str) -> bytes:
    # Bytes, exactly as Meta would POST them (see fixtures/facebook/README.md).
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str) -> ParseResult:
    return parse_payload(parse_body(load_fixture(name)))


def single_event(name: str) -> Event:
    result = parse_fixture(name)
    assert result.skipped == []
    assert len(result.events) == 1
    return result.events[0]


# utc(2024, 11, 14, 10, 39, 59, 876000): an aware UTC datetime, spelled like datetime().
utc = functools.partial(datetime, tzinfo=UTC)


def envelope(*items: object, obj: str = "page", key: str = "messaging") -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": PAGE, "time": 1731580800123, key: list(items)}]}


def text_item(mid: str, text: str = "hi", **extra: object) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1731580799876,
        "message": {"mid": mid, "text": text, **extra},
    }


# --- one test per fixture ---------------------------------------------------------------------------


def test_message_text() -> None:
    event = single_event("message_text.json")

    assert event == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 39, 59, 876000),
        mid="m_Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6",
        text="Un caf\u00e9 pour 2 ? \U0001f600 R\u00e9ponse \u00e0 hello@example.com",
    )
    assert isinstance(event, MessageEvent)
    assert "café" in event.text
    assert "😀" in event.text
    assert event.customer_id == PSID
    assert event.raw == json.loads(load_fixture("message_text.json"))["entry"][0]["messaging"][0]


def test_message_quick_reply() -> None:
    assert single_event("message_quick_reply.json") == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 39, 59, 900000),
        mid="m_cXVpY2tfcmVwbHlfbWlkXzAwMQ",
        text="Red",
        quick_reply_payload="COLOR_RED",
    )


def test_message_reply_to() -> None:
    assert single_event("message_reply_to.json") == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 41, 40),
        mid="m_cmVwbHlfbWlkXzEyMzQ1Njc4OTA",
        text="Yes, that one",
        reply_to_mid="m_b3JpZ2luYWxfbWlkXzk4NzY1",
    )


def test_message_image_keeps_both_images_in_order() -> None:
    url_1 = "https://scontent.xx.fbcdn.net/v/t1.15752-9/123456789_n.jpg?_nc_cat=1&oh=00_AbCd&oe=6760A1B2"
    url_2 = "https://scontent.xx.fbcdn.net/v/t1.15752-9/987654321_n.jpg?oh=00_EfGh&oe=6760A1B2"

    assert single_event("message_image.json") == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 43, 20),
        mid="m_YXR0YWNobWVudF9taWRfMTIz",
        attachments=(
            Attachment(type="image", url=url_1, payload={"url": url_1}),
            Attachment(type="image", url=url_2, payload={"url": url_2}),
        ),
    )


@pytest.mark.parametrize(
    ("name", "kind", "mid", "timestamp", "url"),
    [
        (
            "message_video.json",
            "video",
            "m_dmlkZW9fbWlkXzAwMQ",
            utc(2024, 11, 14, 10, 43, 30),
            "https://video.xx.fbcdn.net/v/t42.3356-2/468512345_n.mp4?_nc_cat=104&vabr=360&oh=00_VvWw&oe=6760B2C3",
        ),
        (
            "message_audio.json",
            "audio",
            "m_YXVkaW9fbWlkXzAwMQ",
            utc(2024, 11, 14, 10, 43, 40),
            (
                "https://cdn.fbsbx.com/v/t59.3654-21/467123456_n.mp4/audioclip-1731581019000-2400.mp4"
                "?_nc_cat=108&oh=03_AaBb&oe=6740C3D4"
            ),
        ),
        (
            "message_file.json",
            "file",
            "m_ZmlsZV9taWRfMDAx",
            utc(2024, 11, 14, 10, 43, 50),
            "https://cdn.fbsbx.com/v/t59.2708-21/466987654_n.pdf/menu-hiver.pdf?_nc_cat=100&oh=03_CcDd&oe=6740D4E5",
        ),
    ],
)
def test_message_media(name: str, kind: str, mid: str, timestamp: datetime, url: str) -> None:
    assert single_event(name) == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=timestamp,
        mid=mid,
        attachments=(Attachment(type=kind, url=url, payload={"url": url}),),
    )


def test_message_sticker_pair_is_deduplicated_to_the_sticker() -> None:
    url = (
        "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png"
        "?_nc_cat=1&oh=00_StIk&oe=68A1B2C3"
    )

    assert single_event("message_sticker.json") == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2025, 7, 31, 22, 13, 20),
        mid="m_c3RpY2tlcl9taWRfMQ",
        attachments=(
            Attachment(
                type="sticker",
                url=url,
                payload={"url": url, "sticker_id": 369239263222822},
                sticker_id="369239263222822",
            ),
        ),
    )


def test_message_location() -> None:
    event = single_event("message_location.json")

    assert isinstance(event, MessageEvent)
    assert event.mid == "m_bG9jYXRpb25fbWlkXzAwMQ"
    assert event.timestamp == utc(2024, 11, 14, 10, 44)
    [attachment] = event.attachments
    assert attachment.type == "location"
    assert attachment.title == "Pin's Location"
    assert attachment.latitude == 48.8566
    assert attachment.longitude == 2.3522
    assert attachment.url is not None
    assert attachment.url.startswith("https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps")
    assert attachment.payload == {"coordinates": {"lat": 48.8566, "long": 2.3522}}


def test_message_fallback_with_null_payload() -> None:
    assert single_event("message_fallback.json") == MessageEvent(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 44, 10),
        mid="m_ZmFsbGJhY2tfbWlkXzAwMQ",
        text="https://example.com/menu",
        attachments=(Attachment(type="fallback", url="https://example.com/menu", payload={}, title="Our new menu"),),
    )


def test_message_echo() -> None:
    event = single_event("message_echo.json")

    assert event == MessageEvent(
        **FROM_PAGE,
        timestamp=utc(2024, 11, 14, 10, 45),
        mid="m_ZWNob19taWRfZnJvbV9zZW5kX2FwaQ",
        text="We open at 9am.",
        is_echo=True,
        app_id="1234567890123456",  # a JSON number in the payload
        metadata="outbox:4f1c2b",
    )
    assert isinstance(event, MessageEvent)
    assert event.customer_id == PSID


CAPTURED = FIXTURES.parent / "captured"


def test_an_echo_addressed_to_the_page_is_read_with_the_parties_swapped() -> None:
    # Published test data sends echoes with the customer as sender and the Page as recipient; read
    # as sent, the Page would become its own customer.
    result = parse_payload(parse_body((CAPTURED / "messenger_echo_unswapped__courier.json").read_bytes()))

    [event] = result.events
    assert isinstance(event, MessageEvent)
    assert event.is_echo
    assert (event.sender_id, event.recipient_id) == ("1234567890", "5678")
    assert event.customer_id == "5678"
    assert result.skipped == ["entry[0].messaging[0]: echo with the account as recipient; read with sender and recipient swapped"]


def test_a_message_whose_customer_is_the_page_itself_is_skipped() -> None:
    # A real capture with every id redacted to "ID": Page, sender and recipient are one id.
    result = parse_payload(parse_body((CAPTURED / "messenger_standby_text_redacted__botman-issue-66.json").read_bytes()))

    assert result.events == []
    assert result.skipped == ["entry[0].standby[0]: message whose customer is the account itself"]


def test_message_echo_page_inbox_arrives_in_standby() -> None:
    event = single_event("message_echo_page_inbox.json")

    assert event == MessageEvent(
        **FROM_PAGE,
        timestamp=utc(2019, 10, 2, 21, 52, 50, 673000),
        is_standby=True,
        mid="qT7ywaKpO9kkQR7Gv-nM8LIfLZDamVrALniheUYEDdHJXjDXEAyaS1xxONzb2Iv-DFzmTihfWJV012P5pK0AhQ",
        text="Reply typed in Page Inbox",
        is_echo=True,
    )
    assert isinstance(event, MessageEvent)
    assert event.app_id is None
    assert event.customer_id == PSID


def test_message_template_echo() -> None:
    assert single_event("message_template_echo.json") == MessageEvent(
        **FROM_PAGE,
        timestamp=utc(2024, 11, 14, 10, 45, 20),
        mid="m_dGVtcGxhdGVfZWNob19taWQ",
        is_echo=True,
        app_id="1234567890123456",
        metadata="outbox:7a9e01",
        attachments=(
            Attachment(
                type="template",
                title="Need help?",
                payload={
                    "template_type": "button",
                    "text": "Need help?",
                    "buttons": [
                        {"type": "postback", "title": "Talk to a human", "payload": "HANDOFF_HUMAN"},
                        {"type": "web_url", "title": "Opening hours", "url": "https://example.com/hours"},
                    ],
                },
            ),
        ),
    )


def test_delivery_without_timestamp() -> None:
    assert single_event("delivery.json") == Delivery(
        **FROM_CUSTOMER,
        timestamp=None,
        mids=("m_ZWNob19taWRfZnJvbV9zZW5kX2FwaQ",),
        watermark=utc(2024, 11, 14, 10, 45),
    )


def test_read() -> None:
    assert single_event("read.json") == Read(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 46, 40),
        watermark=utc(2024, 11, 14, 10, 45, 50),
    )


def test_postback() -> None:
    assert single_event("postback.json") == Postback(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 48, 20),
        mid="m_cG9zdGJhY2tfbWlk",
        title="Talk to a human",
        payload="HANDOFF_HUMAN",
        referral={"ref": "spring-promo", "source": "SHORTLINK", "type": "OPEN_THREAD"},
    )


def test_reaction_react() -> None:
    assert single_event("reaction_react.json") == Reaction(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 50),
        mid="m_ZWNob19taWRfZnJvbV9zZW5kX2FwaQ",
        action="react",
        reaction="love",
        emoji="\u2764\ufe0f",
    )


def test_reaction_unreact_without_emoji() -> None:
    assert single_event("reaction_unreact.json") == Reaction(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 51),
        mid="m_ZWNob19taWRfZnJvbV9zZW5kX2FwaQ",
        action="unreact",
        reaction=None,
        emoji=None,
    )


def test_referral() -> None:
    event = single_event("referral.json")

    assert event == Referral(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 51, 40),
        ref="winter-sale",
        source="ADS",
        type="OPEN_THREAD",
        ad_id="120200000000000001",
        data=json.loads(load_fixture("referral.json"))["entry"][0]["messaging"][0]["referral"],
    )
    assert isinstance(event, Referral)
    assert event.data["ads_context_data"]["post_id"] == "104857600123456_987654321"


def test_message_edit() -> None:
    assert single_event("message_edit.json") == MessageEdit(
        **FROM_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 53, 20),
        mid="m_Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A",
        text="Red, please",
        num_edit=1,
    )


def test_instagram_text() -> None:
    event = single_event("instagram_text.json")

    assert event == MessageEvent(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 56, 39),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk5NDYyMDg5NzI3OTI4MA",
        text="\u00bfSigue disponible? \U0001f64f\U0001f3fd",
    )
    assert isinstance(event, MessageEvent)
    assert event.customer_id == IGSID


def test_instagram_story_reply() -> None:
    assert single_event("instagram_story_reply.json") == MessageEvent(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 56, 49),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOnN0b3J5X3JlcGx5",
        text="Is this still available?",
        reply_to_story={"id": "17999999999999999", "url": IG_CDN + "17999999999999999&signature=AbCd"},
    )


@pytest.mark.parametrize(
    ("name", "kind", "mid", "timestamp", "url"),
    [
        (
            "instagram_story_mention.json",
            "story_mention",
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOnN0b3J5X21lbnRpb24",
            utc(2024, 11, 14, 10, 56, 59),
            IG_CDN + "17888888888888888&signature=EfGh",
        ),
        (
            "instagram_share.json",
            "share",
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOnNoYXJl",
            utc(2024, 11, 14, 10, 57, 9),
            IG_CDN + "17877777777777777&signature=IjKl",
        ),
    ],
)
def test_instagram_url_attachments(name: str, kind: str, mid: str, timestamp: datetime, url: str) -> None:
    assert single_event(name) == MessageEvent(
        **FROM_IG_CUSTOMER,
        timestamp=timestamp,
        mid=mid,
        attachments=(Attachment(type=kind, url=url, payload={"url": url}),),
    )


def test_instagram_reel() -> None:
    url = IG_CDN + "18066666666666666&signature=MnOp"
    title = "Behind the counter \u2615 #coffee"

    assert single_event("instagram_reel.json") == MessageEvent(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 57, 19),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOnJlZWw",
        attachments=(
            Attachment(
                type="ig_reel",
                url=url,
                title=title,
                payload={"reel_video_id": "18066666666666666", "title": title, "url": url},
            ),
        ),
    )


def test_instagram_deleted() -> None:
    assert single_event("instagram_deleted.json") == MessageDeleted(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 55),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw",
    )


def test_instagram_read_by_mid() -> None:
    assert single_event("instagram_read.json") == Read(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 58, 20),
        watermark=None,
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOmVjaG8",
    )


def test_instagram_unsupported() -> None:
    assert single_event("instagram_unsupported.json") == MessageEvent(
        **FROM_IG_CUSTOMER,
        timestamp=utc(2024, 11, 14, 10, 58, 30),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOnVuc3VwcG9ydGVk",
        text="",
        is_unsupported=True,
    )


def test_instagram_echo() -> None:
    event = single_event("instagram_echo.json")

    assert event == MessageEvent(
        platform="INSTAGRAM",
        account_id=IG_ACCOUNT,
        sender_id=IG_ACCOUNT,
        recipient_id=IGSID,
        timestamp=utc(2024, 11, 14, 10, 58),
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwOmVjaG8",
        text="Yes! Pick-up from 9am \u2014 @ the counter",
        is_echo=True,
    )
    assert isinstance(event, MessageEvent)
    assert event.customer_id == IGSID


def test_batched_entries_yield_every_event_of_every_entry() -> None:
    result = parse_fixture("batched_entries.json")

    assert result.skipped == []
    assert result.events == [
        MessageEvent(
            **FROM_CUSTOMER,
            timestamp=utc(2024, 11, 14, 10, 39, 59, 876000),
            mid="m_YmF0Y2hfbWlkXzAwMQ",
            text="Hi, are you open today?",
        ),
        MessageEvent(
            **FROM_CUSTOMER,
            timestamp=utc(2024, 11, 14, 10, 39, 59, 990000),
            mid="m_YmF0Y2hfbWlkXzAwMg",
            text="And tomorrow?",
        ),
        Read(**FROM_CUSTOMER, timestamp=utc(2024, 11, 14, 10, 40, 0, 50000), watermark=utc(2024, 11, 14, 10, 39, 50)),
        Delivery(
            platform="FACEBOOK",
            account_id=PAGE_2,
            sender_id=PSID_2,
            recipient_id=PAGE_2,
            timestamp=None,
            mids=("m_YWJjZGVmZ2hpamtsbW5vcA", "m_cXJzdHV2d3h5ejAxMjM0"),
            watermark=utc(2024, 11, 14, 10, 39, 59),
        ),
        MessageEvent(
            platform="FACEBOOK",
            account_id=PAGE_2,
            sender_id=PSID_2,
            recipient_id=PAGE_2,
            timestamp=utc(2024, 11, 14, 10, 40, 0, 1000),
            mid="m_YmF0Y2hfbWlkXzAwMw",
            text="Merci !",
        ),
    ]


def test_timestamps_string_seconds() -> None:
    result = parse_fixture("timestamps_string_seconds.json")

    assert result.skipped == []
    message, postback, read = result.events
    assert isinstance(message, MessageEvent)
    assert isinstance(postback, Postback)
    assert isinstance(read, Read)
    # "1731580799" (string seconds) is the same instant as 1731580799000 (int ms).
    assert message.timestamp == parse_timestamp(1731580799000) == utc(2024, 11, 14, 10, 39, 59)
    assert postback.timestamp == utc(2018, 5, 27, 22, 23, 44)
    assert (postback.title, postback.payload) == ("Get Started", "GET_STARTED")
    assert read.watermark == utc(2024, 11, 14, 10, 39, 59)
    assert read.timestamp == utc(2024, 11, 14, 10, 40, 50)


def test_platform_notices_are_parsed_and_do_not_hide_the_message() -> None:
    result = parse_fixture("unknown_event.json")

    assert result.skipped == []
    assert result.events == [
        OptIn(
            **FROM_CUSTOMER, timestamp=utc(2024, 11, 14, 11, 0), ref="checkout-plugin", user_ref="opt_in_ref_5a1b2c"
        ),
        MessageEvent(
            **FROM_CUSTOMER,
            timestamp=utc(2024, 11, 14, 11, 0, 0, 100000),
            mid="m_bmV4dF90b191bmtub3du",
            text="Still there?",
        ),
        # policy_enforcement has no sender at all.
        PolicyEnforcement(
            platform="FACEBOOK",
            account_id=PAGE,
            sender_id="",
            recipient_id=PAGE,
            timestamp=utc(2024, 11, 14, 11, 0, 0, 200000),
            action="warning",
            reason="The bot violated our Platform Policies (https://developers.facebook.com/policy/#messengerplatform).",
        ),
    ]


def test_message_nul_byte_and_rtl_text_are_kept_verbatim() -> None:
    event = single_event("message_nul_byte.json")

    assert isinstance(event, MessageEvent)
    assert event.text == "before\x00after \u05e9\u05dc\u05d5\u05dd"


def test_every_fixture_parses_without_skips() -> None:
    names = sorted(path.name for path in FIXTURES.glob("*.json"))
    assert len(names) >= 33

    for name in names:
        result = parse_fixture(name)
        assert result.events, name
        assert result.skipped == [], name
        for event in result.events:
            assert event.raw, name  # the item as received is kept
            assert event.timestamp is None or event.timestamp.tzinfo is UTC


# --- stickers and attachments -----------------------------------------------------------------------


def test_legacy_image_with_sticker_id_becomes_a_sticker() -> None:
    url = "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_n.png"
    payload = {"url": url, "sticker_id": 369239263222822}
    item = text_item("m_legacy", attachments=[{"type": "image", "payload": payload}])
    del item["message"]["text"]

    [event] = parse_payload(envelope(item)).events

    assert isinstance(event, MessageEvent)
    assert event.attachments == (Attachment(type="sticker", url=url, payload=payload, sticker_id="369239263222822"),)


def test_sticker_pair_with_image_first_or_last_and_matched_by_url() -> None:
    url = "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_n.png"
    sticker = {"type": "sticker", "payload": {"url": url, "sticker_id": "369239263222822"}}
    image_without_id = {"type": "image", "payload": {"url": url}}

    for attachments in ([sticker, image_without_id], [image_without_id, sticker]):
        [event] = parse_payload(envelope(text_item("m_pair", attachments=attachments))).events
        assert isinstance(event, MessageEvent)
        assert [a.type for a in event.attachments] == ["sticker"]


def test_different_stickers_and_plain_images_are_not_deduplicated() -> None:
    attachments = [
        {"type": "image", "payload": {"url": "https://x.test/a.png", "sticker_id": 1}},
        {"type": "sticker", "payload": {"url": "https://x.test/b.png", "sticker_id": 2}},
        {"type": "image", "payload": {"url": "https://x.test/photo.jpg"}},
    ]

    [event] = parse_payload(envelope(text_item("m_mixed", attachments=attachments))).events

    assert isinstance(event, MessageEvent)
    assert [(a.type, a.sticker_id) for a in event.attachments] == [("sticker", "1"), ("sticker", "2"), ("image", None)]


@pytest.mark.parametrize(
    ("attachment", "url", "title"),
    [
        ({"type": "fallback", "payload": {"url": "https://a.test/1", "title": "T"}}, "https://a.test/1", "T"),
        ({"type": "fallback", "payload": None, "url": "https://a.test/2"}, "https://a.test/2", None),
        ({"type": "fallback", "payload": None, "URL": "https://a.test/3", "title": "T3"}, "https://a.test/3", "T3"),
        ({"type": "fallback"}, None, None),
        ({"type": "fallback", "payload": "not-a-dict", "title": 42}, None, None),
    ],
)
def test_fallback_shapes(attachment: dict[str, Any], url: str | None, title: str | None) -> None:
    [event] = parse_payload(envelope(text_item("m_fallback", attachments=[attachment]))).events

    assert isinstance(event, MessageEvent)
    [parsed] = event.attachments
    assert (parsed.type, parsed.url, parsed.title) == ("fallback", url, title)
    assert parsed.payload == (attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {})


def test_unknown_attachment_types_are_kept_by_name() -> None:
    attachments = [{"type": "appointment_booking", "payload": {"id": 7}}, {"payload": {}}]

    [event] = parse_payload(envelope(text_item("m_new_type", attachments=attachments))).events

    assert isinstance(event, MessageEvent)
    assert [a.type for a in event.attachments] == ["appointment_booking", "unknown"]


def test_location_with_string_or_missing_coordinates() -> None:
    attachments = [
        {"type": "location", "payload": {"coordinates": {"lat": "48.8566", "long": "2.3522"}}},
        {"type": "location", "payload": {}},
    ]

    [event] = parse_payload(envelope(text_item("m_loc", attachments=attachments))).events

    assert isinstance(event, MessageEvent)
    assert [(a.latitude, a.longitude) for a in event.attachments] == [(48.8566, 2.3522), (None, None)]


def test_bad_attachment_entries_are_dropped_but_the_message_is_kept() -> None:
    attachments = ["oops", {"type": "image", "payload": {"url": "https://x.test/a.jpg"}}]

    result = parse_payload(envelope(text_item("m_partial", attachments=attachments)))

    [event] = result.events
    assert isinstance(event, MessageEvent)
    assert [a.url for a in event.attachments] == ["https://x.test/a.jpg"]
    assert result.skipped == ["entry[0].messaging[0]: message.attachments[0] is string, not an object; ignored"]


# --- ids, flags, referrals ---------------------------------------------------------------------------


def test_numeric_ids_are_normalised_to_str() -> None:
    item = text_item("m_numeric", app_id=1234567890123456, is_echo=True)
    item["sender"] = {"id": int(PAGE)}
    item["recipient"] = {"id": int(PSID)}
    data = {"object": "page", "entry": [{"id": int(PAGE), "messaging": [item]}]}

    [event] = parse_payload(data).events

    assert isinstance(event, MessageEvent)
    assert (event.account_id, event.sender_id, event.recipient_id, event.app_id) == (
        PAGE,
        PAGE,
        PSID,
        "1234567890123456",
    )
    assert event.customer_id == PSID


def test_string_booleans_are_understood() -> None:
    item = text_item("m_echo_str", is_echo="true")

    [event] = parse_payload(envelope(item)).events

    assert isinstance(event, MessageEvent)
    assert event.is_echo is True


def test_deleted_message_on_messenger_too() -> None:
    item = text_item("m_gone", is_deleted=True)

    assert parse_payload(envelope(item)).events == [
        MessageDeleted(**FROM_CUSTOMER, timestamp=utc(2024, 11, 14, 10, 39, 59, 876000), mid="m_gone")
    ]


def test_message_referral_and_item_level_referral() -> None:
    product = {"product": {"id": "7777777777777777"}}
    with_message_referral = text_item("m_product", referral=product)
    with_item_referral = text_item("m_ad")
    with_item_referral["referral"] = {"ref": "winter-sale", "source": "ADS", "type": "OPEN_THREAD"}

    first, second = parse_payload(envelope(with_message_referral, with_item_referral)).events

    assert isinstance(first, MessageEvent)
    assert isinstance(second, MessageEvent)
    assert first.referral == product
    assert second.referral == with_item_referral["referral"]


def test_standby_and_messaging_in_one_entry() -> None:
    data = {
        "object": "page",
        "entry": [{"id": PAGE, "messaging": [text_item("m_owned")], "standby": [text_item("m_standby")]}],
    }

    events = parse_payload(data).events

    assert [(e.mid, e.is_standby) for e in events if isinstance(e, MessageEvent)] == [
        ("m_owned", False),
        ("m_standby", True),
    ]


def test_changes_form_is_tolerated() -> None:
    postback_item = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": "1527459824",
        "postback": {"title": "Get Started", "payload": "GET_STARTED", "mid": "m_changes"},
    }
    data = {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": "1527459824",
                "changes": [
                    {"field": "messaging_postbacks", "value": postback_item},
                    {"field": "feed", "value": {"item": "status", "verb": "add", "post_id": "1_2"}},
                ],
            }
        ],
    }

    result = parse_payload(data)

    assert result.events == [
        Postback(
            **FROM_CUSTOMER,
            timestamp=utc(2018, 5, 27, 22, 23, 44),
            mid="m_changes",
            title="Get Started",
            payload="GET_STARTED",
        )
    ]
    assert result.skipped == ["entry[0].changes[1]: field 'feed' is not a messaging event; ignored"]


# --- malformed items ----------------------------------------------------------------------------------


def test_malformed_items_are_skipped_without_losing_valid_ones() -> None:
    no_mid = text_item("x")
    del no_mid["message"]["mid"]
    no_sender = text_item("m_no_sender")
    del no_sender["sender"]
    no_recipient = text_item("m_no_recipient")
    del no_recipient["recipient"]
    bad_reaction = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "reaction": {"mid": "m_1", "action": "like"}}
    message_not_object = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": "hello"}
    envelope_only = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1}
    data = envelope(
        text_item("m_first"),
        "not-an-item",
        no_mid,
        no_sender,
        no_recipient,
        bad_reaction,
        message_not_object,
        envelope_only,
        text_item("m_last"),
    )

    result = parse_payload(data)

    assert [e.mid for e in result.events if isinstance(e, MessageEvent)] == ["m_first", "m_last"]
    assert len(result.events) == 2
    assert result.skipped == [
        "entry[0].messaging[1]: item is string, not an object",
        "entry[0].messaging[2]: message has no mid",
        "entry[0].messaging[3]: message: sender.id missing",
        "entry[0].messaging[4]: message: recipient.id missing",
        "entry[0].messaging[5]: reaction.action is 'like', expected 'react' or 'unreact'",
        "entry[0].messaging[6]: message is string, not an object",
        "entry[0].messaging[7]: no event key",
    ]


def test_skip_reasons_never_contain_message_text() -> None:
    item = text_item("m_secret", text="my card number is 4111", attachments="nope")
    item_without_mid = text_item("x", text="another secret")
    del item_without_mid["message"]["mid"]

    result = parse_payload(envelope(item, item_without_mid))

    assert result.skipped
    assert not any("4111" in reason or "secret" in reason for reason in result.skipped)


def test_malformed_entries_are_skipped() -> None:
    data = {
        "object": "page",
        "entry": [
            "junk",
            {"time": 1, "messaging": [text_item("m_no_entry_id")]},
            {"id": PAGE, "messaging": {"not": "a list"}, "standby": [text_item("m_ok")]},
        ],
    }

    result = parse_payload(data)

    assert [e.mid for e in result.events if isinstance(e, MessageEvent)] == ["m_ok"]
    assert result.skipped == [
        "entry[0]: entry is string, not an object",
        "entry[1]: entry has no id (Page / Instagram account); all its events skipped",
        "entry[2].messaging is object, not an array",
    ]


def test_missing_timestamp_and_junk_timestamp_keep_the_event() -> None:
    item = text_item("m_no_ts")
    item["timestamp"] = "yesterday"

    [event] = parse_payload(envelope(item)).events

    assert event.timestamp is None


# --- envelope errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b'{"object": "page", "entry": [NaN]}',
        b"\xff\xfe{}",
        b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
        b"[]",
        b'"page"',
        b"null",
        b"42",
    ],
)
def test_parse_body_rejects_non_object_json(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_body(body)


def test_parse_body_decodes_escapes() -> None:
    data = parse_body(load_fixture("message_text.json"))

    assert data["entry"][0]["messaging"][0]["message"]["text"].startswith("Un café")


def test_parse_body_accepts_raw_utf8() -> None:
    assert parse_body('{"object":"page","entry":[],"x":"café"}'.encode()) == {
        "object": "page",
        "entry": [],
        "x": "café",
    }


@pytest.mark.parametrize(
    "data",
    [
        [],
        "page",
        None,
        {},
        {"entry": []},
        {"object": 1, "entry": []},
        {"object": "page"},
        {"object": "page", "entry": {}},
        {"object": "page", "entry": None},
    ],
)
def test_parse_payload_rejects_non_envelopes(data: object) -> None:
    with pytest.raises(PayloadError):
        parse_payload(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("obj", ["user", "whatsapp_business_account", "Page", "permissions"])
def test_other_objects_yield_no_events(obj: str) -> None:
    result = parse_payload(envelope(text_item("m_other"), obj=obj))

    assert result.events == []


def test_empty_entry_list_yields_nothing() -> None:
    assert parse_payload({"object": "instagram", "entry": []}) == ParseResult()


# --- parse_timestamp -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1731580799876, utc(2024, 11, 14, 10, 39, 59, 876000)),  # int ms
        (1731580799, utc(2024, 11, 14, 10, 39, 59)),  # int s
        (1731580799.5, utc(2024, 11, 14, 10, 39, 59, 500000)),  # float s
        (1731580799876.0, utc(2024, 11, 14, 10, 39, 59, 876000)),  # float ms
        ("1527459824", utc(2018, 5, 27, 22, 23, 44)),  # string s
        ("1527459824000", utc(2018, 5, 27, 22, 23, 44)),  # string ms
        (" 1527459824 ", utc(2018, 5, 27, 22, 23, 44)),
        ("1527459824.25", utc(2018, 5, 27, 22, 23, 44, 250000)),
        ("2024-11-14T10:39:59+00:00", utc(2024, 11, 14, 10, 39, 59)),
        ("2024-11-14T10:39:59Z", utc(2024, 11, 14, 10, 39, 59)),
        ("2024-11-14T11:39:59.876+01:00", utc(2024, 11, 14, 10, 39, 59, 876000)),
        ("2024-11-14T10:39:59", utc(2024, 11, 14, 10, 39, 59)),  # naive: assumed UTC
        (99_999_999_999, utc(5138, 11, 16, 9, 46, 39)),  # last value read as seconds
        (100_000_000_000, utc(1973, 3, 3, 9, 46, 40)),  # first value read as milliseconds
    ],
)
def test_parse_timestamp(value: object, expected: datetime) -> None:
    parsed = parse_timestamp(value)

    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "abc",
        "-1",
        -1,
        -1731580799876,
        0,
        "0",
        True,
        False,
        10**30,
        "9" * 40,
        float("nan"),
        float("inf"),
        "NaN",
        "1e9",
        "1_000_000_000",
        "0x5B0B3A50",
        [],
        {},
        b"1527459824",
    ],
)
def test_parse_timestamp_junk_returns_none(value: object) -> None:
    assert parse_timestamp(value) is None


def test_parse_timestamp_converts_offsets_to_utc() -> None:
    parsed = parse_timestamp("2024-11-14T05:39:59-05:00")

    assert parsed == datetime(2024, 11, 14, 5, 39, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert parsed is not None
    assert parsed.tzinfo is UTC


# --- events -------------------------------------------------------------------------------------------


def test_events_are_frozen_and_raw_is_not_compared() -> None:
    event = single_event("message_text.json")
    assert isinstance(event, MessageEvent)

    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "changed"  # type: ignore[misc]
    assert dataclasses.replace(event, raw={}) == event
    assert "raw" not in repr(event)


@pytest.mark.parametrize("action", [["react"], {"a": 1}, 1, None, "REACT"])
def test_a_reaction_with_an_unusable_action_is_skipped_not_raised(action):
    data = {
        "object": "page",
        "entry": [{"id": "104857600123456", "time": 1731581400000, "messaging": [{
            "sender": {"id": "7012345678901234"}, "recipient": {"id": "104857600123456"},
            "timestamp": 1731581400000, "reaction": {"mid": "m_x", "action": action},
        }]}],
    }
    result = parse_payload(data)
    assert result.events == []
    assert len(result.skipped) == 1 and "reaction.action" in result.skipped[0]
