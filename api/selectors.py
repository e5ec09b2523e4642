"""What the API reads, always through `.for_business()`: accounts, conversations and their messages.

Lists are walked with an opaque, signed cursor (keyset pagination: the last row's sort values), so a
page is as fast at the millionth row as at the first and rows inserted meanwhile neither shift nor
repeat what the next page shows. Conversations run newest activity first (`lastMessageAt`, then id),
messages newest first (`timestamp`, then id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.core import signing
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from api.errors import ApiError, not_found
from inbox.models import ChatMessage, Conversation, Label
from inbox.selectors import labels_prefetch
from social.models import SocialAccount

if TYPE_CHECKING:
    from accounts.models import Business

CURSOR_SALT = "api.cursor"
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise not_found(what) from None


def _cursor_encode(kind: str, at: datetime, pk: int) -> str:
    return signing.dumps([kind, at.isoformat(), pk], salt=CURSOR_SALT, compress=True)


def _cursor_decode(kind: str, cursor: str) -> tuple[datetime, int]:
    try:
        got_kind, at, pk = signing.loads(cursor, salt=CURSOR_SALT)
        parsed = parse_datetime(at)
        if got_kind != kind or parsed is None:
            raise ValueError(kind)
        return parsed, int(pk)
    except (signing.BadSignature, ValueError, TypeError):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this list gave out.") from None


def _limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}.")
    return limit


def account_queryset(*, business: Business | int):
    return SocialAccount.objects.for_business(business).without_tokens().select_related("business", "page")


def account_list(*, business: Business) -> list[SocialAccount]:
    return list(account_queryset(business=business).order_by("account_name", "id"))


def account_get(*, business: Business, public_id: str) -> SocialAccount:
    try:
        return account_queryset(business=business).get(public_id=_uuid(public_id, "account"))
    except SocialAccount.DoesNotExist:
        raise not_found("account") from None


def conversation_queryset(*, business: Business | int):
    return (
        Conversation.objects.for_business(business)
        .select_related("business", "account", "assignee")
        .defer("account__access_token", "account__refresh_token")
    )


def conversation_get(*, business: Business, public_id: str) -> Conversation:
    try:
        conversation = conversation_queryset(business=business).get(public_id=_uuid(public_id, "conversation"))
    except Conversation.DoesNotExist:
        raise not_found("conversation") from None
    labels_prefetch([conversation])
    return conversation


@dataclass(frozen=True)
class ConversationFilters:
    status: str | None = None
    assignee: str | None = None  # a member's email, or "none"
    label: str | None = None
    account: str | None = None  # an account's public id
    updated_since: str | None = None
    unread: bool | None = None


def conversation_list(*, business: Business, filters: ConversationFilters, cursor: str | None, limit: int) -> Page:
    limit = _limit(limit)
    rows = conversation_queryset(business=business)
    if filters.status:
        if filters.status not in Conversation.Status.values:
            raise ApiError(400, "invalid_filter", f"status is one of {', '.join(Conversation.Status.values)}.")
        rows = rows.filter(status=filters.status)
    if filters.assignee:
        if filters.assignee == "none":
            rows = rows.filter(assignee__isnull=True)
        else:
            rows = rows.filter(assignee__email__iexact=filters.assignee.strip())
    if filters.label:
        label = Label.objects.for_business(business).filter(name__iexact=filters.label.strip()).first()
        if label is None:
            raise ApiError(400, "invalid_filter", "No label of that name.")
        rows = rows.filter(label_links__label=label)
    if filters.account:
        rows = rows.filter(account__public_id=_uuid(filters.account, "account"))
    if filters.updated_since:
        since = parse_datetime(filters.updated_since)
        if since is None or since.tzinfo is None:
            raise ApiError(400, "invalid_filter", "updated_since is an ISO 8601 time with a zone, e.g. 2026-01-31T09:00:00Z.")
        rows = rows.filter(updated_at__gte=since)
    if filters.unread is not None:
        rows = rows.filter(unread_count__gt=0) if filters.unread else rows.filter(unread_count=0)
    if cursor:
        at, pk = _cursor_decode("conversations", cursor)
        rows = rows.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=pk))
    found = list(rows.order_by("-last_message_at", "-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    labels_prefetch(found)
    last = found[-1] if more else None
    return Page(found, _cursor_encode("conversations", last.last_message_at, last.pk) if last else None)


def message_queryset(*, business: Business | int):
    return (
        ChatMessage.objects.for_business(business)
        .select_related("business", "account", "conversation", "reply_to")
        .defer("account__access_token", "account__refresh_token")
    )


def message_list(*, conversation: Conversation, cursor: str | None, limit: int) -> Page:
    limit = _limit(limit)
    rows = message_queryset(business=conversation.business_id).filter(conversation=conversation)
    if cursor:
        at, pk = _cursor_decode(f"messages:{conversation.pk}", cursor)
        rows = rows.filter(Q(timestamp__lt=at) | Q(timestamp=at, pk__lt=pk))
    found = list(rows.order_by("-timestamp", "-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if more else None
    return Page(found, _cursor_encode(f"messages:{conversation.pk}", last.timestamp, last.pk) if last else None)
