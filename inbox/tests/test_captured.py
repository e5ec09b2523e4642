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
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F

from accounts.tests.factories import BusinessFactory
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.tests.helpers import FakeGraph, post_webhook
from social.models import Platform
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
    "several_entries",
    "several_items",
    "no_sender",
    "changes",
    "not_json",
)


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
    for key in ("postback", "delivery", "read", "reaction", "referral", "message_edit"):
        if key in item:
            kinds.add(f"{obj}:{key}")
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
