"""Test events from Meta's App Dashboard (Webhooks → Test), told apart from real traffic.

The Test button posts a signed sample for the chosen field, with entry id ``"0"`` (no Page or
Instagram account has that id) and placeholder ids inside, e.g. ``{"object": "page", "entry":
[{"id": "0", "changes": [{"field": "messages", "value": {"page_id": "…"}}]}]}`` or Instagram's
``changes`` / ``messaging`` samples with sender ``12334`` and recipient ``23245``. Such an entry
routes to nobody and must not become a customer, nor an unroutable event that waits forever for
account "0" to connect: the body is recorded as a ``test`` event instead, and the time of the latest
one tells operators that Meta reaches the callback.
"""

from __future__ import annotations

from typing import Any, Final

# Meta's ids are positive numbers; "0" is what the dashboard's samples carry.
TEST_ENTRY_IDS: Final = frozenset({"0"})


def entry_id(entry: object) -> str | None:
    """The entry's id as text (Meta sends it as a string, some samples as a number)."""
    if not isinstance(entry, dict):
        return None
    value = entry.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def is_test_entry_id(value: str | None) -> bool:
    return value is not None and value.strip() in TEST_ENTRY_IDS


def is_test_body(data: dict[str, Any]) -> bool:
    """True when every entry of the body is a dashboard sample (and there is at least one)."""
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        return False
    return all(is_test_entry_id(entry_id(entry)) for entry in entries)
