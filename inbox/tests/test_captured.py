"""Every captured Meta webhook body, POSTed signed through the real endpoint and drained.

The bodies in ``fixtures/captured/`` are shaped exactly as a third party published them (Meta's
reference pages, connectors' test fixtures, payloads pasted in bug reports); each has a sidecar
``<name>.toml`` naming its source and what storing it must give (``[expect]``). Every entry id of a
body is connected to one business first, whatever it is, because the point is what we store.
See ``fixtures/captured/README.md``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F

from accounts.tests.factories import BusinessFactory
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.tests.helpers import FakeGraph, post_webhook
from social.models import Platform, SocialAccount
from social.tests.factories import SocialAccountFactory

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
BODIES = sorted(CAPTURED.glob("*.json"))
MINIMUM_BODIES = 50

OBJECT_PLATFORMS = {"page": Platform.FACEBOOK, "instagram": Platform.INSTAGRAM}
REQUIRED_EXPECT = ("status", "messages", "state")
OPTIONAL_EXPECT = ("kinds", "conversations")

# What the product subscribes to (settings.FACEBOOK_WEBHOOK_FIELDS, and Instagram's messaging fields),
# as the shapes that carry it: "<object>:<what>" (see ``body_kinds``). The corpus must hold each one.
SUBSCRIBED_KINDS = (
    "page:message",
    "page:echo",
    "page:postback",
    "page:delivery",
    "page:read",
    "page:reaction",
    "page:referral",
    "page:message_edit",
    "page:deleted",
    "page:standby",
    "page:attachment:image",
    "page:attachment:location",
    "page:attachment:template",
    "page:attachment:fallback",
    "page:attachment:ig_reel",
    "page:handover",
    "page:optin",
    "page:policy_enforcement",
    "instagram:message",
    "instagram:echo",
    "instagram:read",
    "instagram:postback",
    "instagram:deleted",
    "instagram:story_reply",
    "instagram:attachment:image",
    "instagram:attachment:share",
    "instagram:attachment:story_mention",
)
# Odd shapes found in published bodies, which storing them must survive.
ODD_SHAPES = (
    "numeric_ids",
    "seconds_timestamp",
    "string_timestamp",
    "several_entries",
    "several_items",
    "no_sender",
    "changes",
    "not_json",
)
# Item keys that name a Handover change, and the two spellings of a policy enforcement.
HANDOVER_KEYS = frozenset({"pass_thread_control", "take_thread_control", "request_thread_control"})
POLICY_KEYS = frozenset({"policy_enforcement", "policy-enforcement"})


def _sidecar(body_path: Path) -> dict[str, Any]:
    return tomllib.loads(body_path.with_suffix(".toml").read_text(encoding="utf-8"))


def _envelope(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _entries(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    entries = (data or {}).get("entry")
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def _entry_ids(data: dict[str, Any] | None) -> list[str]:
    ids: list[str] = []
    for entry in _entries(data):
        value = entry.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value and value not in ids:
            ids.append(value)
    return ids


def _items(entry: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, item) for each messaging-like item of an entry: messaging, standby, changes values."""
    for key in ("messaging", "standby"):
        for item in entry.get(key) or ():
            if isinstance(item, dict):
                yield key, item
    for change in entry.get("changes") or ():
        if isinstance(change, dict) and isinstance(change.get("value"), dict):
            yield "changes", change["value"]


def body_kinds(raw: bytes) -> set[str]:
    """The event kinds and odd shapes a body holds, as named in SUBSCRIBED_KINDS and ODD_SHAPES."""
    data = _envelope(raw)
    if data is None:
        return {"not_json"}
    raw_object = data.get("object")
    obj = raw_object if isinstance(raw_object, str) else "?"
    kinds: set[str] = set()
    entries = _entries(data)
    if len(entries) > 1:
        kinds.add("several_entries")
    for entry in entries:
        if isinstance(entry.get("id"), int):
            kinds.add("numeric_ids")
        if isinstance(entry.get("time"), str):
            kinds.add("string_timestamp")
        items = list(_items(entry))
        if len(items) > 1:
            kinds.add("several_items")
        for where, item in items:
            kinds |= _item_kinds(obj, where, item)
    return kinds


def _item_kinds(obj: str, where: str, item: dict[str, Any]) -> set[str]:
    kinds: set[str] = set()
    if where == "standby":
        kinds.add(f"{obj}:standby")
    if where == "changes":
        kinds.add("changes")
    if "sender" not in item:
        kinds.add("no_sender")
    elif isinstance((item.get("sender") or {}).get("id"), int):
        kinds.add("numeric_ids")
    timestamp = item.get("timestamp")
    if isinstance(timestamp, int) and 0 < timestamp < 10**11:
        kinds.add("seconds_timestamp")
    elif isinstance(timestamp, str):
        kinds.add("string_timestamp")
    message = item.get("message")
    if isinstance(message, dict):
        if message.get("is_echo") in (True, "true"):
            kinds.add(f"{obj}:echo")
        elif message.get("is_deleted") in (True, "true"):
            kinds.add(f"{obj}:deleted")
        else:
            kinds.add(f"{obj}:message")
        reply_to = message.get("reply_to")
        if isinstance(reply_to, dict) and "story" in reply_to:
            kinds.add(f"{obj}:story_reply")
        for attachment in message.get("attachments") or ():
            if isinstance(attachment, dict) and isinstance(attachment.get("type"), str):
                kinds.add(f"{obj}:attachment:{attachment['type']}")
    for key in ("postback", "delivery", "read", "reaction", "referral", "message_edit", "optin"):
        if key in item:
            kinds.add(f"{obj}:{key}")
    if HANDOVER_KEYS & item.keys():
        kinds.add(f"{obj}:handover")
    # Meta has published the key with an underscore and with a hyphen.
    if POLICY_KEYS & item.keys():
        kinds.add(f"{obj}:policy_enforcement")
    return kinds


@pytest.fixture
def graph():
    with FakeGraph() as fake:
        yield fake


# --- the corpus itself --------------------------------------------------------------------------


@pytest.mark.parametrize("body_path", BODIES, ids=[path.name for path in BODIES])
def test_every_body_has_a_sidecar_naming_its_source_and_expectation(body_path):
    sidecar_path = body_path.with_suffix(".toml")
    assert sidecar_path.exists(), f"{body_path.name} has no {sidecar_path.name}"
    sidecar = _sidecar(body_path)
    for key in ("source", "publisher"):
        value = sidecar.get(key)
        assert isinstance(value, str), f"{sidecar_path.name}: {key} missing"
        assert value.strip(), f"{sidecar_path.name}: {key} is empty"
    assert sidecar["source"].startswith("https://"), f"{sidecar_path.name}: source is not a URL"
    expect = sidecar.get("expect")
    assert isinstance(expect, dict), f"{sidecar_path.name}: no [expect] table"
    missing = [key for key in REQUIRED_EXPECT if key not in expect]
    assert not missing, f"{sidecar_path.name}: [expect] lacks {missing}"
    unknown = set(expect) - set(REQUIRED_EXPECT) - set(OPTIONAL_EXPECT)
    assert not unknown, f"{sidecar_path.name}: unknown [expect] keys {sorted(unknown)}"


def test_every_sidecar_has_its_body():
    orphans = [path.name for path in CAPTURED.glob("*.toml") if not path.with_suffix(".json").exists()]
    assert not orphans


def test_the_corpus_is_large_enough_and_covers_every_subscribed_kind():
    assert len(BODIES) >= MINIMUM_BODIES
    covered: set[str] = set()
    for path in BODIES:
        covered |= body_kinds(path.read_bytes())
    assert not [kind for kind in SUBSCRIBED_KINDS if kind not in covered]
    assert not [shape for shape in ODD_SHAPES if shape not in covered]


def test_body_kinds_names_what_a_body_holds():
    body = (
        b'{"object":"instagram","entry":[{"id":17841400000000000,"time":1,"messaging":['
        b'{"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1700000000,'
        b'"message":{"mid":"m1","is_echo":"true","attachments":[{"type":"share","payload":{}}]}},'
        b'{"recipient":{"id":"2"},"timestamp":1700000000000,"read":{"mid":"m1"}}]}]}'
    )
    assert body_kinds(body) == {
        "numeric_ids",
        "several_items",
        "seconds_timestamp",
        "no_sender",
        "instagram:echo",
        "instagram:attachment:share",
        "instagram:read",
    }
    assert body_kinds(b"{not json") == {"not_json"}
    string_times = (
        b'{"object":"page","entry":[{"id":"1","time":"1472831064518","messaging":['
        b'{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":"2016-09-02T15:15:17+0000","read":{"watermark":1}}]}]}'
    )
    assert body_kinds(string_times) == {"string_timestamp", "page:read"}


def test_body_kinds_names_page_notices_under_either_spelling():
    body = (
        b'{"object":"page","entry":[{"id":"1","time":1,"messaging":['
        b'{"recipient":{"id":"1"},"timestamp":1458692752478,"policy-enforcement":{"action":"block"}},'
        b'{"recipient":{"id":"1"},"timestamp":1458692752478,"policy_enforcement":{"action":"unblock"}},'
        b'{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1458692752478,"optin":{"ref":"r"}},'
        b'{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1458692752478,'
        b'"take_thread_control":{"previous_owner_app_id":"3"}}]}]}'
    )
    assert body_kinds(body) == {"several_items", "no_sender", "page:policy_enforcement", "page:optin", "page:handover"}


# --- each body through the endpoint and the drain -----------------------------------------------


def _connect_entry_ids(raw: bytes) -> None:
    data = _envelope(raw)
    raw_object = (data or {}).get("object")
    platform = OBJECT_PLATFORMS.get(raw_object) if isinstance(raw_object, str) else None
    ids = _entry_ids(data)
    if platform is None or not ids:
        return
    business = BusinessFactory()
    for account_id in ids:
        SocialAccountFactory(business=business, platform=platform, account_id=account_id)


@pytest.mark.django_db
@pytest.mark.parametrize("body_path", BODIES, ids=[path.name for path in BODIES])
def test_captured_body_is_stored_and_applied_as_expected(client, graph, body_path):
    expect = _sidecar(body_path)["expect"]
    raw = body_path.read_bytes()
    _connect_entry_ids(raw)

    response = post_webhook(client, raw)

    assert response.status_code == expect["status"]
    event = WebhookEvent.objects.get()
    # The exact bytes are what was signed and what is kept.
    assert bytes(event.body) == raw
    assert event.state == expect["state"], event.last_error
    messages = list(ChatMessage.objects.order_by("timestamp", "pk"))
    assert len(messages) == expect["messages"], [(m.kind, m.direction, m.content[:40]) for m in messages]
    if "kinds" in expect:
        assert [message.kind for message in messages] == expect["kinds"]
    if "conversations" in expect:
        assert Conversation.objects.count() == expect["conversations"]
    # Whatever the body's shape, a Page or Instagram account is never its own customer.
    assert not Contact.objects.filter(external_id=F("account__account_id")).exists()


# --- what a sidecar's [expect] cannot say -------------------------------------------------------

POLICY_UNBLOCK = CAPTURED / "messenger_policy_unblock__restfb.json"
# Meta's example timestamp, 1458692752478 ms, as the published unblock carries it.
POLICY_AT = datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)


@pytest.mark.django_db
def test_captured_policy_unblock_lifts_an_older_block(client, graph):
    raw = POLICY_UNBLOCK.read_bytes()
    _connect_entry_ids(raw)
    SocialAccount.objects.update(policy_action="block", policy_reason="Spam", policy_at=POLICY_AT - timedelta(days=1))

    post_webhook(client, raw)

    page = SocialAccount.objects.get()
    # The published unblock still carries a reason (Meta's reference says it has none): cleared all the same.
    assert (page.policy_action, page.policy_reason, page.policy_notice) == ("", "", "")
    assert page.policy_at == POLICY_AT


@pytest.mark.django_db
def test_captured_policy_unblock_older_than_the_recorded_block_changes_nothing(client, graph):
    raw = POLICY_UNBLOCK.read_bytes()
    _connect_entry_ids(raw)
    later = POLICY_AT + timedelta(days=1)
    SocialAccount.objects.update(policy_action="block", policy_reason="Spam", policy_at=later)

    post_webhook(client, raw)

    page = SocialAccount.objects.get()
    assert (page.policy_action, page.policy_reason, page.policy_at) == ("block", "Spam", later)


# A real batch Meta delivered in 2016: the customer's read of earlier messages comes first, three
# messages, two deliveries with timestamp 0, the Page's reply "hello", then its delivery and the read
# that covers it, then one more message.
BATCH = CAPTURED / "messenger_batch_echo_receipts__heroku-cbot.json"
BATCH_REPLY_AT = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1472884148102)


@pytest.mark.django_db
def test_captured_batch_applies_its_receipts_to_the_reply_they_cover(client, graph):
    raw = BATCH.read_bytes()
    _connect_entry_ids(raw)

    post_webhook(client, raw)

    reply = ChatMessage.objects.get(direction=ChatMessage.Direction.OUTBOUND)
    assert (reply.content, reply.status, reply.timestamp) == ("hello", ChatMessage.Status.READ, BATCH_REPLY_AT)
    conversation = Conversation.objects.get()
    assert conversation.read_watermark == conversation.delivered_watermark == BATCH_REPLY_AT
    # A customer's read receipt is about the Page's messages, never the customer's own.
    statuses = set(ChatMessage.objects.filter(direction=ChatMessage.Direction.INBOUND).values_list("status", flat=True))
    assert statuses == {ChatMessage.Status.RECEIVED}


ANSWERED = CAPTURED / "messenger_text_answered__messenger-platform-go-sdk.json"
REPLY = CAPTURED / "messenger_echo_template_reply__messenger-platform-go-sdk.json"


# A real exchange of 2016: the customer wrote "test" (seq 414) and the Page answered 3.4 s later with
# a template (seq 415). Meta does not promise delivery order, so the answer may come first.
REPLY_AT = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1468152706921)
ANSWERED_AT = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1468152703534)


def _exchange_state() -> tuple[Any, ...]:
    conversation = Conversation.objects.get()
    thread = list(ChatMessage.objects.order_by("timestamp").values_list("direction", "content", "timestamp"))
    return (
        thread,
        conversation.last_message_at,
        conversation.last_message_direction,
        conversation.unread_count,
        conversation.last_inbound_at,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("bodies", [(REPLY, ANSWERED), (ANSWERED, REPLY)], ids=["reply_first", "in_order"])
def test_captured_reply_and_the_message_it_answers_give_one_thread_whatever_their_order(client, graph, bodies):
    _connect_entry_ids(ANSWERED.read_bytes())

    for body in bodies:
        post_webhook(client, body.read_bytes())

    assert list(WebhookEvent.objects.values_list("state", flat=True)) == ["processed", "processed"]
    inbound, outbound = ChatMessage.Direction.INBOUND, ChatMessage.Direction.OUTBOUND
    # The Page's answer stays the latest line and the answered message is not unread; the customer's
    # message still opens the reply window.
    assert _exchange_state() == (
        [(inbound, "test", ANSWERED_AT), (outbound, "", REPLY_AT)],
        REPLY_AT,
        outbound,
        0,
        ANSWERED_AT,
    )
