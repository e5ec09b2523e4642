"""The sandbox payload builders produce what Meta sends, byte for byte where it matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses

from inbox.facebook.events import (
    Delivery,
    MessageDeleted,
    MessageEdit,
    MessageEvent,
    Postback,
    Reaction,
    Read,
    Referral,
)
from inbox.facebook.parsing import parse_body, parse_payload
from inbox.facebook.signature import compute_signature, verify_signature
from sandbox import payloads as p

PAGE = "104857600123456"
PSID = "7012345678901234"
T = 1767225600000


def parse_one(item: dict, *, object_type: str = "page", field: str = "messaging"):
    body = p.encode(p.envelope(object_type=object_type, entries=[p.entry(account_id=PAGE, events=[item], field=field)]))
    result = parse_payload(parse_body(body))
    assert result.skipped == []
    [event] = result.events
    return event


def test_encode_is_compact_ascii_with_metas_escapes():
    body = p.encode({"text": "caf\u00e9 \U0001f600 a/b x@y", "n": 1})
    assert body == b'{"text":"caf\\u00e9 \\ud83d\\ude00 a\\/b x\\u0040y","n":1}'
    assert json.loads(body) == {"text": "caf\u00e9 \U0001f600 a/b x@y", "n": 1}


def test_encode_keeps_backslashes_right():
    text = "back\\slash \\/ and \\u0040"
    assert json.loads(p.encode({"t": text}))["t"] == text


def test_sign_is_what_the_endpoint_verifies():
    body = p.encode(p.envelope(object_type="page", entries=[]))
    assert p.sign(body, "secret") == compute_signature(body, "secret")
    assert verify_signature(body, p.sign(body, "secret"), "secret")
    assert not verify_signature(body + b" ", p.sign(body, "secret"), "secret")


def test_envelope_and_entry():
    entry = p.entry(account_id=PAGE, events=[{"x": 1}], time_ms=T)
    assert entry == {"id": PAGE, "time": T, "messaging": [{"x": 1}]}
    assert p.entry(account_id=PAGE, events=[], field="standby")["standby"] == []
    assert p.envelope(object_type="instagram", entries=[entry]) == {"object": "instagram", "entry": [entry]}


def test_new_mids_are_unique():
    mids = {p.new_mid() for _ in range(1000)}
    assert len(mids) == 1000
    assert all(mid.startswith("m_") for mid in mids)


def test_text_message_with_quick_reply_and_reply_to():
    event = parse_one(p.text_message(page_id=PAGE, psid=PSID, text="Red", mid="m_1", timestamp_ms=T,
                                     quick_reply="COLOR_RED", reply_to_mid="m_0"))
    assert isinstance(event, MessageEvent)
    assert (event.mid, event.text, event.quick_reply_payload, event.reply_to_mid) == ("m_1", "Red", "COLOR_RED", "m_0")
    assert (event.sender_id, event.recipient_id, event.account_id) == (PSID, PAGE, PAGE)
    assert event.timestamp == datetime.fromtimestamp(T / 1000, tz=UTC)
    assert not event.is_echo


@pytest.mark.parametrize("kind", ["image", "video", "audio", "file", "share", "story_mention", "ig_reel"])
def test_attachment_message(kind):
    event = parse_one(p.attachment_message(page_id=PAGE, psid=PSID, type=kind, url="https://cdn.example/x.bin"))
    [attachment] = event.attachments
    assert (attachment.type, attachment.url) == (kind, "https://cdn.example/x.bin")


def test_sticker_location_and_fallback_attachments():
    sticker = parse_one(p.attachment_message(page_id=PAGE, psid=PSID, type="sticker", url="https://cdn.example/s.png",
                                             sticker_id=369239263222822)).attachments[0]
    assert (sticker.type, sticker.sticker_id) == ("sticker", "369239263222822")
    location = parse_one(p.attachment_message(page_id=PAGE, psid=PSID, type="location", url=None)).attachments[0]
    assert (location.latitude, location.longitude) == (48.8566, 2.3522)
    fallback = parse_one(p.attachment_message(page_id=PAGE, psid=PSID, type="fallback", url="https://example.com/m",
                                              title="Menu")).attachments[0]
    assert (fallback.type, fallback.url, fallback.title) == ("fallback", "https://example.com/m", "Menu")


def test_echo_from_meta_apps_and_from_our_app():
    typed = parse_one(p.echo(page_id=PAGE, psid=PSID, text="Hi", mid="m_e"))
    assert typed.is_echo and typed.app_id is None and typed.metadata is None
    assert (typed.sender_id, typed.customer_id) == (PAGE, PSID)
    ours = parse_one(p.echo(page_id=PAGE, psid=PSID, text="Hi", mid="m_e", app_id="100000000000001", metadata="tok"))
    assert (ours.app_id, ours.metadata, ours.mid) == ("100000000000001", "tok", "m_e")


def test_receipts():
    delivery = parse_one(p.delivery(page_id=PAGE, psid=PSID, mids=["m_1", "m_2"], watermark_ms=T))
    assert isinstance(delivery, Delivery)
    assert delivery.mids == ("m_1", "m_2")
    assert delivery.watermark == datetime.fromtimestamp(T / 1000, tz=UTC)
    read = parse_one(p.read(page_id=PAGE, psid=PSID, watermark_ms=T))
    assert isinstance(read, Read) and read.watermark == delivery.watermark
    ig_read = parse_one(p.read(page_id=PAGE, psid=PSID, mid="m_seen"), object_type="instagram")
    assert ig_read.mid == "m_seen" and ig_read.platform == "INSTAGRAM"


def test_reaction_react_and_unreact():
    react = parse_one(p.reaction(page_id=PAGE, psid=PSID, mid="m_1"))
    assert isinstance(react, Reaction)
    assert (react.action, react.reaction, react.emoji, react.mid) == ("react", "love", "\u2764\ufe0f", "m_1")
    unreact = parse_one(p.reaction(page_id=PAGE, psid=PSID, mid="m_1", action="unreact"))
    assert (unreact.action, unreact.reaction, unreact.emoji) == ("unreact", None, None)


def test_postback_referral_edit_deleted():
    postback = parse_one(p.postback(page_id=PAGE, psid=PSID, title="Talk to a human", payload="HUMAN",
                                    referral={"ref": "r", "source": "SHORTLINK", "type": "OPEN_THREAD"}))
    assert isinstance(postback, Postback)
    assert (postback.title, postback.payload, postback.referral["ref"]) == ("Talk to a human", "HUMAN", "r")
    assert postback.mid
    referral = parse_one(p.referral(page_id=PAGE, psid=PSID, ref="winter", source="ADS", ad_id="1202",
                                    ads_context_data={"ad_title": "Winter sale"}))
    assert isinstance(referral, Referral)
    assert (referral.ref, referral.source, referral.ad_id) == ("winter", "ADS", "1202")
    assert referral.data["ads_context_data"]["ad_title"] == "Winter sale"
    edit = parse_one(p.edit(page_id=PAGE, psid=PSID, mid="m_1", text="new", num_edit=2))
    assert isinstance(edit, MessageEdit) and (edit.mid, edit.text, edit.num_edit) == ("m_1", "new", 2)
    deleted = parse_one(p.deleted(page_id=PAGE, psid=PSID, mid="m_1"))
    assert isinstance(deleted, MessageDeleted) and deleted.mid == "m_1"


def test_standby_entries():
    event = parse_one(p.text_message(page_id=PAGE, psid=PSID, text="x"), field="standby")
    assert event.is_standby


def test_post_webhook_sends_the_exact_bytes_signed():
    body = p.encode(p.envelope(object_type="page", entries=[
        p.entry(account_id=PAGE, events=[p.text_message(page_id=PAGE, psid=PSID, text="caf\u00e9 a@b")])]))
    with responses.RequestsMock() as rsps:
        rsps.post("http://testserver/webhooks/facebook/", body="EVENT_RECEIVED", status=200)
        assert p.post_webhook("http://testserver/webhooks/facebook/", body, "secret") == 200
        request = rsps.calls[0].request
    assert request.body == body
    assert request.headers[p.SIGNATURE_HEADER] == compute_signature(body, "secret")
    assert request.headers["Content-Type"] == "application/json"


def test_post_webhook_returns_error_statuses():
    with responses.RequestsMock() as rsps:
        rsps.post("http://testserver/hook", status=403)
        assert p.post_webhook("http://testserver/hook", b"{}", "secret") == 403
