"""The one sanitiser for text going to the database, and JSON too deep to keep whole."""

from __future__ import annotations

import json

import pytest

from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.helpers import FakeGraph, load_fixture, post_webhook
from inbox.text import MAX_JSON_DEPTH, REPLACEMENT, TOO_DEEP, clean_json, clean_text, json_loads_bounded, truncate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("plain caf\u00e9 \U0001f600", "plain caf\u00e9 \U0001f600"),
        ("a\x00b", f"a{REPLACEMENT}b"),
        ("lone \ud83d high", f"lone {REPLACEMENT} high"),
        ("lone \ude00 low", f"lone {REPLACEMENT} low"),
        ("\x00\x00", REPLACEMENT * 2),
        (12345, "12345"),
    ],
)
def test_clean_text(value, expected):
    cleaned = clean_text(value)
    assert cleaned == expected
    cleaned.encode("utf-8")  # always encodable


def test_clean_text_cuts_to_a_field_size():
    assert clean_text("x" * 300, max_length=255) == "x" * 254 + "\u2026"
    assert len(clean_text("x" * 300, max_length=255)) == 255
    assert clean_text("short", max_length=255) == "short"


def test_clean_json_cleans_keys_and_nested_values_and_keeps_other_types():
    value = {"k\x00": ["a\x00", {"n": 1, "f": 1.5, "b": True, "z": None, "s": "\ud800"}], "t": ("x",)}
    assert clean_json(value) == {
        f"k{REPLACEMENT}": [f"a{REPLACEMENT}", {"n": 1, "f": 1.5, "b": True, "z": None, "s": REPLACEMENT}],
        "t": ["x"],
    }


def test_truncate():
    assert truncate("abc", 3) == "abc"
    assert truncate("abcd", 3) == "ab\u2026"


# --- depth ----------------------------------------------------------------------------------------


def _depth(value) -> int:
    """How many objects / arrays deep the value goes (iteratively: the point is very deep values)."""
    deepest, work = 0, [(value, 0)]
    while work:
        item, depth = work.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            work.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _innermost(value):
    while isinstance(value, dict | list):
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


def _nested(levels: int, leaf=None):
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_clean_json_keeps_a_100000_deep_value_as_a_marker_and_the_rest_as_is():
    value = {"url": "https://scontent.xx.fbcdn.net/a.jpg\x00", "deep": _nested(100_000, "leaf"), "n": 1}
    cleaned = clean_json(value)
    assert cleaned["url"] == f"https://scontent.xx.fbcdn.net/a.jpg{REPLACEMENT}" and cleaned["n"] == 1
    assert list(cleaned) == ["url", "deep", "n"]
    assert _depth(cleaned) == MAX_JSON_DEPTH
    assert _innermost(cleaned["deep"]) == TOO_DEEP
    json.dumps(cleaned)  # what saving it into a JSONField does: no RecursionError either


def test_clean_json_leaves_values_within_the_depth_whole():
    value = _nested(MAX_JSON_DEPTH, "leaf")
    assert clean_json(value) == value
    assert clean_json(_nested(3, "leaf"), max_depth=2) != _nested(3, "leaf")


def test_json_loads_bounded_reads_what_json_loads_reads():
    text = '{"a": [1, {"b": "x[{\\"]}"}], "c": null}'
    assert json_loads_bounded(text) == json.loads(text)


def test_json_loads_bounded_cuts_only_what_is_too_deep_for_json():
    deep = "[" * 100_000 + "]" * 100_000
    text = '{"before": "kept", "deep": ' + deep + ', "brackets in a string": "[[[{{{", "after": 2}'
    with pytest.raises(RecursionError):
        json.loads(text)
    data = json_loads_bounded(text)
    assert data["before"] == "kept" and data["after"] == 2 and data["brackets in a string"] == "[[[{{{"
    assert _depth(data) == MAX_JSON_DEPTH
    assert _innermost(data["deep"]) == TOO_DEEP


@pytest.mark.parametrize("text", ["[" * 200_000, "[" * 100_000 + "}" * 100_000, '{"a":' * 100_000])
def test_json_loads_bounded_still_refuses_what_is_not_json(text):
    with pytest.raises(ValueError):  # json's own error or ours: both are ValueErrors
        json_loads_bounded(text)


@pytest.mark.django_db
def test_a_message_with_a_100000_deep_attachment_payload_is_stored(client, page):
    body = load_fixture("message_image")
    marker = b'"payload":{"url"'
    assert body.count(marker) == 2
    deep = b"[" * 100_000 + b"]" * 100_000
    body = body.replace(marker, b'"payload":{"deep":' + deep + b',"url"', 1)
    with FakeGraph():
        assert post_webhook(client, body).status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    message = ChatMessage.objects.get()
    first, second = message.attachments.order_by("position")
    assert first.url.startswith("https://scontent.xx.fbcdn.net/") and second.url.startswith("https://")
    # Cut where the body got too deep (the payload sits a few levels into it), not lost.
    assert _depth(first.payload) < MAX_JSON_DEPTH and _innermost(first.payload["deep"]) == TOO_DEEP
    assert message.media_urls == [first.url, second.url]
