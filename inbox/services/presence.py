"""Presence: which teammates have the inbox open, and who is viewing or typing a reply in a conversation.

Each open inbox socket (`inbox.consumers`) is one entry, stored in Django's cache so every ASGI
process sees it (Redis in production; local memory on the embedded default, a single process):

- ``inbox:presence:<business>:<socket>``: the entry (member, state, conversation), expiring
  ``ONLINE_SECONDS`` after the page last spoke (it beats every ~20 s);
- ``inbox:presence:<business>``: the ids of the business's sockets, so a page that connects can be
  told who is there already. Updating it is a read and a write: two sockets connecting at the same
  instant may lose one id, which its next heartbeat puts back (`presence_update`).

Socket ids are random and say nothing about the channel layer. The page is told entries as small
JSON frames (pushes are HTML, access frames carry ``"type": "access.ended"``): ``presence`` with
entries, and ``presence.gone`` when a socket leaves (disconnect, access ended). Expiry on the page
is relative (``expires_in``), so the browser's clock need not agree with the server's.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from accounts.avatars import staff_colour, staff_initials
from accounts.models import Membership
from accounts.selectors import member_display_name
from inbox.models import Conversation

ONLINE_SECONDS = 45
TYPING_SECONDS = 6
INDEX_SECONDS = 24 * 3600

VIEWING = "viewing"
TYPING = "typing"
IDLE = "idle"
STATES = frozenset({VIEWING, TYPING, IDLE})

# A frame is {"presence": "...", "conversation": <pk>}: anything longer is not one.
MAX_FRAME_CHARS = 120
FRAMES_PER_SECOND = 5
# Conversation ids a socket has been allowed to name, remembered so the check costs one query per id.
MAX_REMEMBERED_CONVERSATIONS = 200
MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Frame:
    state: str
    conversation_id: int | None


def frame_parse(text: Any) -> Frame | None:
    """The page's presence frame, or None for anything else (wrong size, type, key or value)."""
    if not isinstance(text, str) or len(text) > MAX_FRAME_CHARS:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not set(data) <= {"presence", "conversation"}:
        return None
    state = data.get("presence")
    conversation = data.get("conversation")
    if state not in STATES:
        return None
    if conversation is None:
        return Frame(state=IDLE, conversation_id=None) if state == IDLE else None
    # bool is an int in Python; true is no conversation id.
    if isinstance(conversation, bool) or not isinstance(conversation, int) or not 0 < conversation <= MAX_INT:
        return None
    return Frame(state=state, conversation_id=conversation)


class FrameRate:
    """At most ``per_second`` frames in any one-second window; the rest are dropped."""

    def __init__(self, per_second: int = FRAMES_PER_SECOND) -> None:
        self.per_second = per_second
        self.times: list[float] = []

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.times = [t for t in self.times if now - t < 1.0]
        if len(self.times) >= self.per_second:
            return False
        self.times.append(now)
        return True


# --- reads in the database (the consumer calls these through database_sync_to_async) ----------------


def conversation_in_business(*, business_id: int, conversation_id: int) -> bool:
    return Conversation.objects.filter(business_id=business_id, pk=conversation_id).exists()


def member_ids(*, business_id: int) -> set[int]:
    return set(Membership.objects.filter(business_id=business_id).values_list("user_id", flat=True))


# --- the store ----------------------------------------------------------------------------------------


def _index_key(business_id: int) -> str:
    return f"inbox:presence:{business_id}"


def _entry_key(business_id: int, socket: str) -> str:
    return f"inbox:presence:{business_id}:{socket}"


def new_socket_id() -> str:
    return secrets.token_urlsafe(9)


def entry_new(*, socket: str, user) -> dict:
    name = member_display_name(user)
    return {
        "socket": socket,
        "user": user.pk,
        "name": name,
        "initials": staff_initials(name),
        "colour": staff_colour(user.pk),
        "state": IDLE,
        "conversation": None,
        "typing_until": 0.0,
    }


async def presence_enter(*, business_id: int, entry: dict) -> None:
    await cache.aset(_entry_key(business_id, entry["socket"]), entry, ONLINE_SECONDS)
    await _index_add(business_id, entry["socket"])


async def presence_update(*, business_id: int, entry: dict, frame: Frame) -> dict:
    """Store what the page said (also its heartbeat); returns the entry as it is now."""
    entry = {**entry, "state": frame.state, "conversation": frame.conversation_id}
    entry["typing_until"] = time.time() + TYPING_SECONDS if frame.state == TYPING else 0.0
    await cache.aset(_entry_key(business_id, entry["socket"]), entry, ONLINE_SECONDS)
    await _index_add(business_id, entry["socket"])
    return entry


async def presence_leave(*, business_id: int, socket: str) -> None:
    await cache.adelete(_entry_key(business_id, socket))
    index = await cache.aget(_index_key(business_id)) or []
    if socket in index:
        await cache.aset(_index_key(business_id), [s for s in index if s != socket], INDEX_SECONDS)


async def presence_entries(*, business_id: int, members: set[int] | None = None) -> list[dict]:
    """The live entries of the business (expired ones are dropped from the index), of current members only."""
    index = await cache.aget(_index_key(business_id)) or []
    if not index:
        return []
    found = await cache.aget_many([_entry_key(business_id, socket) for socket in index])
    alive = [socket for socket in index if _entry_key(business_id, socket) in found]
    if len(alive) != len(index):
        await cache.aset(_index_key(business_id), alive, INDEX_SECONDS)
    entries = [found[_entry_key(business_id, socket)] for socket in alive]
    if members is not None:
        entries = [entry for entry in entries if entry["user"] in members]
    return entries


async def _index_add(business_id: int, socket: str) -> None:
    index = await cache.aget(_index_key(business_id)) or []
    if socket not in index:
        await cache.aset(_index_key(business_id), [*index, socket], INDEX_SECONDS)


# --- what the pages are told ---------------------------------------------------------------------------


def entry_public(entry: dict, *, now: float | None = None) -> dict:
    """The entry as a page sees it: typing past its time is viewing again; expiry relative to now."""
    now = time.time() if now is None else now
    state = entry["state"]
    typing_left = max(0.0, entry.get("typing_until", 0.0) - now)
    if state == TYPING and typing_left <= 0:
        state = VIEWING
    return {
        "socket": entry["socket"],
        "user": entry["user"],
        "name": entry["name"],
        "initials": entry["initials"],
        "colour": entry["colour"],
        "state": state,
        "conversation": entry["conversation"],
        "expires_in": ONLINE_SECONDS,
        "typing_for": round(typing_left, 1) if state == TYPING else 0,
    }


def frame_entries(entries: list[dict], *, snapshot: bool = False) -> str:
    return json.dumps({"type": "presence", "snapshot": snapshot, "entries": [entry_public(e) for e in entries]})


def frame_gone(*, socket: str, user_id: int) -> str:
    return json.dumps({"type": "presence.gone", "socket": socket, "user": user_id})
