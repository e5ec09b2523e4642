"""Turn a Meta Messenger / Instagram webhook body into typed events (docs/messenger-platform.md §3-§4).

Pure: no Django, no ORM, no settings, no HTTP, no logging. The caller verifies the signature on the
raw bytes first (``inbox.facebook.signature``), then::

    result = parse_payload(parse_body(raw_body))
    for event in result.events: ...        # MessageEvent, Delivery, ..., Unknown
    for reason in result.skipped: ...      # log these

Return type: ``parse_payload`` returns a ``ParseResult`` (``events`` + ``skipped``), not a bare
list. One POST can batch up to 1000 updates (§5); one malformed item must not abort the rest, yet
dropping it silently would hide a change in Meta's shapes. So each unusable item (or part of one,
e.g. a non-object attachment) leaves a reason string: a JSON path and what was wrong, never
message content, so it is safe to log. Well-formed items of kinds we do not handle
(``account_linking``, ``game_play`` …) are not "skipped": they become ``Unknown`` events.

``PayloadError`` is raised only when the body is not a webhook envelope at all (bad JSON, not an
object, no ``entry`` list). Envelopes for other products (``object`` other than ``page`` /
``instagram``) give no events.

Text is kept exactly as decoded (NUL, emoji, RTL marks included); making it safe for the database
is the persistence layer's job.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn, TypeAlias

from inbox.facebook.comments import COMMENT_FIELDS, comment_change
from inbox.facebook.events import (
    FACEBOOK,
    INSTAGRAM,
    AppRoles,
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
    ThreadControl,
    Unknown,
)
from inbox.text import json_loads_bounded


class PayloadError(ValueError):
    """The body is not a Meta webhook envelope at all (as opposed to one bad item inside it)."""


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Events in payload order, plus one reason string per item (or item part) left out."""

    events: list[Event] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _MalformedItemError(Exception):
    """Raised by a handler for an item it cannot turn into an event; caught per item."""


OBJECT_PLATFORMS: Final[Mapping[str, Platform]] = {"page": FACEBOOK, "instagram": INSTAGRAM}

# Keys every messaging item may carry besides its single event key (§3.1).
_ENVELOPE_KEYS: Final = frozenset({"sender", "recipient", "timestamp"})

_REACTION_ACTIONS: Final = frozenset({"react", "unreact"})

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Below this a number is seconds (10**11 s is the year 5138), above it milliseconds (10**11 ms is
# 1973): Messenger sends ms, some newer docs and fixtures show string seconds (§3.3).
_SECONDS_CUTOFF: Final = 10**11
# Digits only: int()/float() would also accept "1_000", "-1", "1e9", "nan", which are not Meta's.
_NUMBER_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


# --- body -----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN / Infinity, which are not JSON and never come from Meta.
    msg = f"non-standard JSON constant {name}"
    raise ValueError(msg)


def parse_body(body: bytes) -> dict[str, Any]:
    """Decode the raw webhook body; raise ``PayloadError`` unless it is a UTF-8 JSON object."""
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"webhook body is not valid UTF-8 (bad byte at offset {exc.start})"
        raise PayloadError(msg) from exc
    try:
        # A value nested past what json can read becomes a marker instead of costing the whole body.
        data = json_loads_bounded(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        msg = f"webhook body is not valid JSON: {exc}"
        raise PayloadError(msg) from exc
    if not isinstance(data, dict):
        msg = f"webhook body must be a JSON object, not {_json_type(data)}"
        raise PayloadError(msg)
    return data


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# --- scalars --------------------------------------------------------------------------------------


def parse_timestamp(value: object) -> datetime | None:
    """Aware UTC datetime from ms / s epoch (int, float or numeric string) or ISO-8601; else None.

    Never raises: a junk timestamp must not cost us the message it is attached to. Non-positive
    values are treated as junk (a 1970 date is a placeholder, not a real event time).
    """
    if isinstance(value, str) and not _NUMBER_RE.fullmatch(value.strip()):
        return _parse_iso(value.strip())
    number = _epoch_number(value)
    if number is None:
        return None
    try:
        if number < _SECONDS_CUTOFF:
            return _EPOCH + timedelta(seconds=number)
        # timedelta(milliseconds=int) is exact, unlike dividing by 1000 as a float.
        return _EPOCH + timedelta(milliseconds=number)
    except (OverflowError, ValueError):
        return None


def _epoch_number(value: object) -> int | float | None:
    """A positive finite number from an int, float or digits-only string."""
    number: int | float
    if isinstance(value, bool):  # bool is an int subclass; True is not a time
        return None
    if isinstance(value, str):
        text = value.strip()
        number = float(text) if "." in text else int(text)
    elif isinstance(value, int | float):
        number = value
    else:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    return number


def _parse_iso(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A naive ISO time from Meta can only sensibly be UTC.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _as_id(value: object) -> str | None:
    """Opaque id as str: Meta sends some ids (app_id, sticker_id, …) as JSON numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    # Floats are refused: an id that went through a float has already lost digits.
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_bool(value: object) -> bool:
    # "All JSON properties in a webhook notification are strings" on some newer pages (§3.3).
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _as_int(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _first_str(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


# --- per-item context -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    """Fields shared by every event of one item, plus non-fatal problems found while parsing it."""

    platform: Platform
    account_id: str
    sender_id: str
    recipient_id: str
    timestamp: datetime | None
    is_standby: bool
    raw: dict[str, Any]
    user_ref: str = ""
    notes: list[str] = field(default_factory=list)

    def base(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account_id": self.account_id,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "timestamp": self.timestamp,
            "is_standby": self.is_standby,
            "user_ref": self.user_ref,
            "raw": self.raw,
        }


# --- attachments ----------------------------------------------------------------------------------


def _parse_attachment(raw: dict[str, Any]) -> Attachment:
    kind = _first_str(raw.get("type")) or "unknown"
    payload = _as_dict(raw.get("payload")) or {}
    coordinates = _as_dict(payload.get("coordinates")) or {}
    return Attachment(
        type=kind,
        # Fallback links have lived in payload.url, a top-level "URL" and "url" over the years (§4.5).
        url=_first_str(payload.get("url"), raw.get("URL"), raw.get("url"), payload.get("URL")),
        payload=payload,
        title=_first_str(raw.get("title"), payload.get("title")),
        sticker_id=_as_id(payload.get("sticker_id")),
        latitude=_as_float(coordinates.get("lat")),
        longitude=_as_float(coordinates.get("long")),
    )


def _dedupe_stickers(attachments: list[Attachment], *, message_sticker_id: str | None = None) -> tuple[Attachment, ...]:
    """Collapse Meta's sticker transition pair and upgrade legacy stickers (§4.4).

    Since 2026-06-01 a sticker arrives as both an ``image`` and a ``sticker`` attachment; showing
    both would duplicate it, so the image twin is dropped. It is recognised by the same sticker_id
    or, because where sticker_id sits is unconfirmed, by the same URL. An image that still carries a
    sticker_id with no twin is the legacy form and becomes a ``sticker``. The legacy form names the
    sticker beside the attachments (``message.sticker_id``) as well as, or instead of, in the image's
    payload: that id is the lone image's when the image names none.
    """
    images = [a for a in attachments if a.type == "image"]
    if message_sticker_id is not None and len(images) == 1 and images[0].sticker_id is None:
        attachments = [
            dataclasses.replace(a, sticker_id=message_sticker_id) if a is images[0] else a for a in attachments
        ]
    stickers = [a for a in attachments if a.type == "sticker"]
    sticker_ids = {a.sticker_id for a in stickers if a.sticker_id is not None}
    sticker_urls = {a.url for a in stickers if a.url is not None}
    result: list[Attachment] = []
    for attachment in attachments:
        if attachment.type != "image":
            result.append(attachment)
        elif attachment.sticker_id in sticker_ids or attachment.url in sticker_urls:
            continue
        elif attachment.sticker_id is not None:
            result.append(dataclasses.replace(attachment, type="sticker"))
        else:
            result.append(attachment)
    return tuple(result)


def _parse_attachments(value: object, ctx: _Context, *, sticker_id: object = None) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ctx.notes.append(f"message.attachments is {_json_type(value)}, not an array; ignored")
        return ()
    parsed: list[Attachment] = []
    for index, raw in enumerate(value):
        if not isinstance(raw, dict):
            ctx.notes.append(f"message.attachments[{index}] is {_json_type(raw)}, not an object; ignored")
            continue
        parsed.append(_parse_attachment(raw))
    return _dedupe_stickers(parsed, message_sticker_id=_as_id(sticker_id))


# --- event handlers -------------------------------------------------------------------------------
# Each takes (event body, whole item, context). The body is already known to be a dict.


def _require_mid(body: Mapping[str, Any], where: str) -> str:
    mid = _as_id(body.get("mid"))
    if mid is None:
        # Without a mid we can neither dedupe a redelivery nor link replies/reactions to it.
        msg = f"{where} has no mid"
        raise _MalformedItemError(msg)
    return mid


def _parse_message(body: dict[str, Any], item: dict[str, Any], ctx: _Context) -> MessageEvent | MessageDeleted:
    mid = _require_mid(body, "message")
    is_echo = _as_bool(body.get("is_echo"))
    _echo_parties_in_meta_order(ctx, is_echo=is_echo)
    if _as_bool(body.get("is_deleted")):
        return MessageDeleted(**ctx.base(), mid=mid)
    reply_to = _as_dict(body.get("reply_to")) or {}
    story = _as_dict(reply_to.get("story"))
    quick_reply = _as_dict(body.get("quick_reply")) or {}
    # Prefer message.referral (IG product); a referral next to the message in the item also counts.
    referral = _as_dict(body.get("referral")) or _as_dict(item.get("referral"))
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        ctx.notes.append(f"message.text is {_json_type(text)}, not a string; ignored")
    return MessageEvent(
        **ctx.base(),
        mid=mid,
        text=text if isinstance(text, str) else "",
        attachments=_parse_attachments(body.get("attachments"), ctx, sticker_id=body.get("sticker_id")),
        quick_reply_payload=_as_str(quick_reply.get("payload")),
        reply_to_mid=_as_id(reply_to.get("mid")),
        reply_to_story=(
            {"id": _as_id(story.get("id")), "url": _as_str(story.get("url"))} if story is not None else None
        ),
        is_echo=is_echo,
        app_id=_as_id(body.get("app_id")),
        metadata=_as_str(body.get("metadata")),
        is_unsupported=_as_bool(body.get("is_unsupported")),
        referral=referral,
    )


def _echo_parties_in_meta_order(ctx: _Context, *, is_echo: bool) -> None:
    """Meta's echoes name the Page or Instagram account as the sender; published test bodies (and
    hand-written ones) also send echoes the other way round, which would make the account its own
    customer. Such an echo is read with the parties swapped."""
    if is_echo and ctx.recipient_id == ctx.account_id and ctx.sender_id and ctx.sender_id != ctx.account_id:
        ctx.sender_id, ctx.recipient_id = ctx.recipient_id, ctx.sender_id
        ctx.notes.append("echo with the account as recipient; read with sender and recipient swapped")


def _parse_message_edit(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> MessageEdit:
    return MessageEdit(
        **ctx.base(),
        mid=_require_mid(body, "message_edit"),
        text=_as_str(body.get("text")) or "",
        num_edit=_as_int(body.get("num_edit"), default=0),
    )


def _parse_reaction(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> Reaction:
    mid = _require_mid(body, "reaction")
    action = body.get("action")
    # A list or dict here is unhashable: check the type before the set lookup.
    if isinstance(action, str) and action in _REACTION_ACTIONS:
        return Reaction(
            **ctx.base(),
            mid=mid,
            action="react" if action == "react" else "unreact",
            reaction=_as_str(body.get("reaction")),
            emoji=_as_str(body.get("emoji")),
        )
    # Guessing would turn a removal into an addition or vice versa.
    shown = repr(action[:40]) if isinstance(action, str) else f"a {type(action).__name__}"
    msg = f"reaction.action is {shown}, expected 'react' or 'unreact'"
    raise _MalformedItemError(msg)


def _parse_delivery(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> Delivery:
    mids = body.get("mids")
    ids = [_as_id(mid) for mid in mids] if isinstance(mids, list) else []
    return Delivery(
        **ctx.base(),
        mids=tuple(mid for mid in ids if mid is not None),
        watermark=parse_timestamp(body.get("watermark")),
    )


def _parse_read(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> Read:
    return Read(**ctx.base(), watermark=parse_timestamp(body.get("watermark")), mid=_as_id(body.get("mid")))


def _parse_postback(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> Postback:
    return Postback(
        **ctx.base(),
        mid=_as_id(body.get("mid")),
        title=_as_str(body.get("title")),
        payload=_as_str(body.get("payload")),
        referral=_as_dict(body.get("referral")),
    )


def _parse_referral(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> Referral:
    return Referral(
        **ctx.base(),
        ref=_as_str(body.get("ref")),
        source=_as_str(body.get("source")),
        type=_as_str(body.get("type")),
        ad_id=_as_id(body.get("ad_id")),
        data=body,
    )


def _parse_policy_enforcement(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> PolicyEnforcement:
    return PolicyEnforcement(
        **ctx.base(),
        action=(_as_str(body.get("action")) or "").strip().lower(),
        reason=_as_str(body.get("reason")) or "",
    )


def _thread_control_parser(kind: str) -> Handler:
    def parse(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> ThreadControl:
        return ThreadControl(
            **ctx.base(),
            kind=kind,
            new_owner_app_id=_as_id(body.get("new_owner_app_id")),
            previous_owner_app_id=_as_id(body.get("previous_owner_app_id")),
            requested_owner_app_id=_as_id(body.get("requested_owner_app_id")),
            metadata=_as_str(body.get("metadata")) or "",
        )

    return parse


def _parse_app_roles(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> AppRoles:
    return AppRoles(**ctx.base(), roles=body)


def _parse_optin(body: dict[str, Any], _item: dict[str, Any], ctx: _Context) -> OptIn:
    # The notification tokens in a marketing-messages opt-in are credentials to message the person:
    # they stay in ``raw`` and are never copied into a field that is stored or shown.
    return OptIn(
        **ctx.base(),
        type=_as_str(body.get("type")) or "",
        ref=_as_str(body.get("ref")),
        title=_as_str(body.get("title")),
        payload=_as_str(body.get("payload")),
        status=_as_str(body.get("notification_messages_status")),
    )


Handler: TypeAlias = Callable[[dict[str, Any], dict[str, Any], _Context], Event]

# Event key -> handler, in priority order: an item carrying both ``message`` and ``referral`` (ad
# click followed by a first message) is a message, with the referral attached to it.
EVENT_FUNCTION_MAPPER: Final[Mapping[str, Handler]] = {
    "message": _parse_message,
    "message_edit": _parse_message_edit,
    "reaction": _parse_reaction,
    "postback": _parse_postback,
    "delivery": _parse_delivery,
    "read": _parse_read,
    "referral": _parse_referral,
    # Platform notices: shown to staff, never customers' messages.
    "policy_enforcement": _parse_policy_enforcement,
    "policy-enforcement": _parse_policy_enforcement,
    "pass_thread_control": _thread_control_parser("pass_thread_control"),
    "take_thread_control": _thread_control_parser("take_thread_control"),
    "request_thread_control": _thread_control_parser("request_thread_control"),
    "app_roles": _parse_app_roles,
    "optin": _parse_optin,
}


# --- items and entries ----------------------------------------------------------------------------


def _event_kind(item: Mapping[str, Any]) -> str | None:
    for key in EVENT_FUNCTION_MAPPER:
        if key in item:
            return key
    for key in item:
        if key not in _ENVELOPE_KEYS:
            return key
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    """What every item of one entry shares: platform, routing id, and the result to append to."""

    platform: Platform
    account_id: str
    result: ParseResult


def _party_id(item: Mapping[str, Any], role: str, kind: str, *, required: bool) -> str:
    party = _as_dict(item.get(role)) or {}
    party_id = _as_id(party.get("id"))
    if party_id is not None:
        return party_id
    if not required:
        # Kinds we do not handle may lack a sender (policy_enforcement, app_roles); "" says so.
        return ""
    hint = " (only user_ref: not a PSID/IGSID)" if "user_ref" in party else ""
    msg = f"{kind}: {role}.id missing{hint}"
    raise _MalformedItemError(msg)


# Notices about the Page itself, which Meta sends without a sender; an opt-in from the checkbox
# plugin names the person by user_ref only.
_PAGE_NOTICE_KINDS: Final = frozenset({"policy_enforcement", "policy-enforcement", "app_roles", "optin"})

# Receipts without a sender are applied through the message they name (§4.8, §4.14).
_SENDERLESS_KINDS: Final = frozenset({"delivery", "read", *_PAGE_NOTICE_KINDS})


def _user_ref(item: Mapping[str, Any]) -> str:
    """The chat plugin's ``sender.user_ref``, or the checkbox plugin's ``optin.user_ref`` (§4.16)."""
    sender = _as_dict(item.get("sender")) or {}
    optin = _as_dict(item.get("optin")) or {}
    return _as_id(sender.get("user_ref")) or _as_id(optin.get("user_ref")) or ""


def _build_event(item: object, entry: _Entry, *, is_standby: bool) -> tuple[Event, list[str]]:
    """The event for one messaging item plus non-fatal notes; raises _MalformedItemError."""
    if not isinstance(item, dict):
        msg = f"item is {_json_type(item)}, not an object"
        raise _MalformedItemError(msg)
    kind = _event_kind(item)
    if kind is None:
        msg = "no event key"
        raise _MalformedItemError(msg)
    handler = EVENT_FUNCTION_MAPPER.get(kind)
    user_ref = _user_ref(item)
    # Known kinds are routed to a contact / conversation, so both parties must be real ids; but a
    # receipt names its message (Instagram's read has no sender, and a real capture had no recipient
    # either: the entry id says whose it is), and the chat plugin's visitor may be known by user_ref only.
    sender_required = handler is not None and kind not in _SENDERLESS_KINDS and not user_ref
    recipient_required = handler is not None and kind not in _SENDERLESS_KINDS
    ctx = _Context(
        platform=entry.platform,
        account_id=entry.account_id,
        sender_id=_party_id(item, "sender", kind, required=sender_required),
        recipient_id=_party_id(item, "recipient", kind, required=recipient_required),
        timestamp=parse_timestamp(item.get("timestamp")),
        is_standby=is_standby,
        raw=item,
        user_ref=user_ref,
    )
    if handler is None:
        return Unknown(**ctx.base(), kind=kind), ctx.notes
    body = item[kind]
    if not isinstance(body, dict):
        msg = f"{kind} is {_json_type(body)}, not an object"
        raise _MalformedItemError(msg)
    event = handler(body, item, ctx)
    customer = event.customer_id if isinstance(event, MessageEvent) else event.sender_id
    if customer and customer == entry.account_id:
        # The account is never its own customer (redacted or made-up bodies name the Page everywhere).
        msg = f"{kind} whose customer is the account itself"
        raise _MalformedItemError(msg)
    return event, ctx.notes


def _parse_item(item: object, path: str, entry: _Entry, *, is_standby: bool) -> None:
    try:
        event, notes = _build_event(item, entry, is_standby=is_standby)
    except _MalformedItemError as exc:
        entry.result.skipped.append(f"{path}: {exc}")
        return
    entry.result.events.append(event)
    entry.result.skipped.extend(f"{path}: {note}" for note in notes)


def _looks_like_messaging(value: Mapping[str, Any]) -> bool:
    # ``changes`` also carries feed / comments / mentions, which are not messaging events.
    return "sender" in value or any(key in value for key in EVENT_FUNCTION_MAPPER)


def _parse_changes(changes: object, path: str, entry: _Entry, *, entry_time: object = None) -> None:
    # Some newer Meta pages render messaging events as changes: [{field, value: <messaging item>}].
    if not isinstance(changes, list):
        entry.result.skipped.append(f"{path} is {_json_type(changes)}, not an array")
        return
    for index, change in enumerate(changes):
        change_path = f"{path}[{index}]"
        change_dict = _as_dict(change) or {}
        value = _as_dict(change_dict.get("value"))
        if value is not None and change_dict.get("field") in COMMENT_FIELDS:
            _parse_comment(str(change_dict["field"]), value, change_path, entry, entry_time)
            continue
        if value is None or not _looks_like_messaging(value):
            name = change_dict.get("field")
            entry.result.skipped.append(f"{change_path}: field {name!r} is not a messaging event; ignored")
            continue
        _parse_item(value, f"{change_path}.value", entry, is_standby=False)


def _parse_comment(field_name: str, value: dict[str, Any], path: str, entry: _Entry, entry_time: object) -> None:
    """A comment on a post or media (``inbox.facebook.comments``); other feed changes are noted."""
    try:
        event = comment_change(
            field=field_name, value=value, platform=entry.platform, account_id=entry.account_id,
            entry_time=entry_time, parse_time=parse_timestamp,
        )
    except ValueError as exc:
        entry.result.skipped.append(f"{path}.value: {exc}")
        return
    if event is None:  # a new post, a reaction, a like: not a conversation
        entry.result.skipped.append(f"{path}: field {field_name!r} is not a messaging event; ignored")
        return
    entry.result.events.append(event)


def _parse_entry(raw_entry: object, path: str, platform: Platform, result: ParseResult) -> None:
    if not isinstance(raw_entry, dict):
        result.skipped.append(f"{path}: entry is {_json_type(raw_entry)}, not an object")
        return
    account_id = _as_id(raw_entry.get("id"))
    if account_id is None:
        # entry.id is the tenant-routing key; without it no event can be attributed.
        result.skipped.append(f"{path}: entry has no id (Page / Instagram account); all its events skipped")
        return
    entry = _Entry(platform=platform, account_id=account_id, result=result)
    for key, is_standby in (("messaging", False), ("standby", True)):
        items = raw_entry.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            result.skipped.append(f"{path}.{key} is {_json_type(items)}, not an array")
            continue
        for index, item in enumerate(items):
            _parse_item(item, f"{path}.{key}[{index}]", entry, is_standby=is_standby)
    if "changes" in raw_entry:
        _parse_changes(raw_entry["changes"], f"{path}.changes", entry, entry_time=raw_entry.get("time"))


def parse_payload(data: Mapping[str, Any]) -> ParseResult:
    """Parse every event of every entry (``messaging``, ``standby`` and messaging-shaped ``changes``).

    Raises ``PayloadError`` if ``data`` is not an envelope (not a dict, no string ``object``, no
    ``entry`` array). Other products' objects (``user``, ``whatsapp_business_account`` …) return no
    events and one note in ``skipped``.
    """
    if not isinstance(data, dict):
        msg = f"webhook payload must be a JSON object, not {_json_type(data)}"
        raise PayloadError(msg)
    obj = data.get("object")
    if not isinstance(obj, str):
        msg = "webhook payload has no 'object' string"
        raise PayloadError(msg)
    entries = data.get("entry")
    if not isinstance(entries, list):
        msg = f"webhook payload 'entry' must be an array, not {_json_type(entries)}"
        raise PayloadError(msg)
    result = ParseResult()
    platform = OBJECT_PLATFORMS.get(obj)
    if platform is None:
        result.skipped.append(f"object {obj!r} is not a messaging object; ignored")
        return result
    for index, entry in enumerate(entries):
        _parse_entry(entry, f"entry[{index}]", platform, result)
    return result


__all__ = [
    "EVENT_FUNCTION_MAPPER",
    "OBJECT_PLATFORMS",
    "ParseResult",
    "PayloadError",
    "parse_body",
    "parse_payload",
    "parse_timestamp",
]
