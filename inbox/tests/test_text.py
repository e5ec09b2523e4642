"""The one sanitiser for text going to the database."""

from __future__ import annotations

import pytest

from inbox.text import REPLACEMENT, clean_json, clean_text, truncate


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
