"""A stored webhook event parsed, and its entries routed to connected accounts (docs/messenger-platform.md §1, §3).

One callback URL serves every connected account: an entry's id (the Page id, or the Instagram
account id for ``object: instagram``) names the account its events belong to. A disconnected
account, or one never connected, routes nothing: its events wait, and are replayed when it connects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from inbox.facebook.events import Event
from inbox.facebook.parsing import OBJECT_PLATFORMS, PayloadError, parse_body, parse_payload
from inbox.ingest.meta_test_events import entry_id, is_test_body, is_test_entry_id
from inbox.models import WebhookEvent
from inbox.text import clean_text
from social.models import SocialAccount

logger = logging.getLogger(__name__)

OBJECT_TYPE_LENGTH = WebhookEvent._meta.get_field("object_type").max_length


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a stored body holds: its object type, entry ids and events; ``error`` when it is not a
    webhook envelope. ``platform`` is None when there is nothing to route."""

    object_type: str = ""
    account_ids: tuple[str, ...] = ()
    platform: str | None = None
    events: tuple[Event, ...] = ()
    error: str = ""
    # Every entry is a sample from the App Dashboard's Test button (``meta_test_events``).
    is_test: bool = False


def parse(*, event_id: int, body: bytes | memoryview) -> Parsed:
    """Parse a stored body (``event_id`` names it in the logs)."""
    object_type = ""
    try:
        data = parse_body(bytes(body))
        raw_type = data.get("object")
        object_type = clean_text(raw_type, max_length=OBJECT_TYPE_LENGTH) if isinstance(raw_type, str) else ""
        result = parse_payload(data)
    except PayloadError as exc:
        logger.warning("Webhook event %s is not a webhook envelope: %s", event_id, exc)
        return Parsed(object_type=object_type, error=str(exc))
    if is_test_body(data):
        logger.info("Webhook event %s is a test event from Meta's App Dashboard", event_id)
        return Parsed(object_type=object_type, is_test=True)
    for reason in result.skipped:
        logger.info("Webhook event %s: skipped %s", event_id, reason)
    # A dashboard sample batched with real entries routes nowhere and waits for nothing.
    return Parsed(
        object_type=object_type,
        account_ids=tuple(i for i in _entry_ids(data) if not is_test_entry_id(i)),
        platform=OBJECT_PLATFORMS.get(data["object"]),
        events=tuple(e for e in result.events if not is_test_entry_id(e.account_id)),
    )


def accounts_for(parsed: Iterable[Parsed]) -> dict[tuple[str, str], SocialAccount]:
    """The connected accounts these events' entries name, by (platform, account id), in one query."""
    platform_ids: dict[str, set[str]] = {}
    for item in parsed:
        if item.platform is not None:
            platform_ids.setdefault(item.platform, set()).update(item.account_ids)
    condition = Q()
    for platform, ids in platform_ids.items():
        condition |= Q(platform=platform, account_id__in=ids)
    if not condition:
        return {}
    return {
        (account.platform, account.account_id): account
        for account in SocialAccount.objects.filter(condition).exclude(status=SocialAccount.Status.DISCONNECTED)
    }


def _entry_ids(data: dict[str, Any]) -> tuple[str, ...]:
    ids: list[str] = []
    for entry in data.get("entry") or ():
        value = entry_id(entry)
        if value and value not in ids:
            ids.append(clean_text(value, max_length=64))
    return tuple(ids)
