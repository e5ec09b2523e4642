"""Handover Protocol: which app owns a customer's thread, and taking it back or passing it on.

Meta gives one app of a Page control of each thread at a time. Our app is the Primary Receiver;
Meta's Page Inbox (or a bot) may own a thread for a while, and then the customer's messages reach us
as ``standby`` events and our replies are refused (10/2018300). ``Conversation.thread_owner_app_id``
keeps what we last learned ("" while the thread is ours), from the handover webhooks, standby
events, Meta's ``thread_owner`` answer and our own take/pass calls. Each source carries a time, and
only a newer one moves it, so a late redelivery never undoes a later change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.services import audit_record
from inbox.models import PAGE_INBOX_APP_ID, UNKNOWN_APP, ChatMessage, Conversation, handover_app_name
from inbox.realtime import publish_on_commit
from social.graph import (
    GraphAPIError,
    GraphPermissionError,
    InvalidParameterError,
    RateLimitError,
    TokenInvalidError,
    TransientGraphError,
)
from social.services import account_graph_client

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Sent to Meta with a take or pass; the other app sees it (never a person's name).
METADATA = "Social Inbox"
OWNER_LENGTH = 32


class HandoverError(Exception):
    """Meta refused or failed a take/pass/lookup; the text is for staff as it is."""


def our_app_id() -> str:
    return str(settings.FACEBOOK_APP_ID)


def owner_value(app_id: str | None) -> str:
    """What ``thread_owner_app_id`` keeps for an app Meta names: "" for ours."""
    app_id = str(app_id or "").strip()[:OWNER_LENGTH]
    return "" if app_id == our_app_id() else (app_id or UNKNOWN_APP)


def thread_owner_record(*, conversation_ids: Iterable[int], app_id: str | None, at: datetime) -> list[int]:
    """Record that ``app_id`` owns these threads since ``at`` (None or ours: we do); returns the ids
    whose owner changed. Older news than what is kept changes nothing."""
    owner = "" if app_id is None else owner_value(app_id)
    rows = (
        Conversation.objects.filter(pk__in=list(conversation_ids))
        .filter(Q(thread_owner_at__isnull=True) | Q(thread_owner_at__lte=at))
    )
    changed = list(rows.exclude(thread_owner_app_id=owner).values_list("pk", flat=True))
    rows.update(thread_owner_app_id=owner, thread_owner_at=at)
    return changed


def thread_control_owner(
    *, kind: str, new_owner_app_id: str | None, previous_owner_app_id: str | None
) -> tuple[bool, str | None]:
    """(whether the webhook changes the owner, the app that owns the thread after it: None for us).

    ``pass_thread_control`` names the new owner. ``take_thread_control`` reaches the app the thread
    was taken from, naming it as ``previous_owner_app_id``: if that was us, another app has it now
    (Meta names it only in newer payloads); if another app lost it, we (the Primary Receiver) took it.
    A ``request_thread_control`` changes nobody.
    """
    if kind == "pass_thread_control":
        return True, new_owner_app_id or UNKNOWN_APP
    if kind == "take_thread_control":
        if new_owner_app_id:
            return True, new_owner_app_id
        if previous_owner_app_id and previous_owner_app_id != our_app_id():
            return True, None
        return True, UNKNOWN_APP
    return False, None


def handover_event_apply(
    *, conversation: Conversation, kind: str, new_owner_app_id: str | None, previous_owner_app_id: str | None,
    at: datetime,
) -> bool:
    """A handover webhook for this thread; True when its owner changed (its header must change)."""
    changes, owner = thread_control_owner(
        kind=kind, new_owner_app_id=new_owner_app_id, previous_owner_app_id=previous_owner_app_id
    )
    if not changes:
        return False
    return bool(thread_owner_record(conversation_ids=[conversation.pk], app_id=owner, at=at))


def handover_standby_apply(*, messages: Iterable[tuple[int, int, datetime]]) -> set[int]:
    """Messages that came as ``standby`` events ((message id, conversation id, time)): another app
    owned their threads then. Marks those threads (an app we know stays named) and stamps each
    message with the app, so the thread shows who had it. Returns the conversations whose owner changed."""
    messages = list(messages)
    if not messages:
        return set()
    changed: set[int] = set()
    for conversation_id, latest in _latest_by_conversation(messages).items():
        rows = Conversation.objects.filter(pk=conversation_id, thread_owner_app_id="").filter(
            Q(thread_owner_at__isnull=True) | Q(thread_owner_at__lte=latest)
        )
        if rows.update(thread_owner_app_id=UNKNOWN_APP, thread_owner_at=latest):
            changed.add(conversation_id)
    owners = dict(
        Conversation.objects.filter(pk__in={c for _, c, _ in messages}).values_list("pk", "thread_owner_app_id")
    )
    for message_id, conversation_id, _ in messages:
        row = ChatMessage.objects.filter(pk=message_id).only("pk", "extra").first()
        if row is not None:
            row.extra = {**(row.extra or {}), "standby_app_id": owners.get(conversation_id) or UNKNOWN_APP}
            ChatMessage.objects.filter(pk=message_id).update(extra=row.extra)
    return changed


def _latest_by_conversation(messages: list[tuple[int, int, datetime]]) -> dict[int, datetime]:
    latest: dict[int, datetime] = {}
    for _, conversation_id, at in messages:
        if conversation_id not in latest or at > latest[conversation_id]:
            latest[conversation_id] = at
    return latest


# STAFF ACTIONS
# ------------------------------------------------------------------------------
def _client(conversation: Conversation, actor: User | None):
    return account_graph_client(conversation.account, actor=actor)


def handover_error_text(exc: GraphAPIError) -> str:
    """What staff read when Meta refused or failed a handover call (a web request never retries)."""
    detail = exc.message
    if isinstance(exc, TokenInvalidError):
        return f"The page's access to Messenger was revoked; reconnect it on Pages. ({detail})"
    if isinstance(exc, RateLimitError):
        return f"Meta is limiting calls for this page; try again in {exc.retry_after} seconds."
    if isinstance(exc, TransientGraphError):
        return f"Meta is not answering right now; try again in a moment. ({detail})"
    if isinstance(exc, GraphPermissionError | InvalidParameterError):
        return f"Meta refused: {detail}"
    return f"Meta could not do it: {detail}"


def _changed(*, conversation: Conversation, actor: User, action: str, **metadata) -> None:
    audit_record(action=action, business=conversation.business, actor=actor, target=conversation, metadata=metadata)
    publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation.pk])


def _failed(*, conversation: Conversation, actor: User, action: str, exc: GraphAPIError) -> HandoverError:
    logger.warning("Handover %s for conversation %s failed: %s", action, conversation.pk, exc)
    audit_record(
        action=f"{action}_failed", business=conversation.business, actor=actor, target=conversation,
        metadata={"error": exc.message[:500], "error_code": exc.code, "error_subcode": exc.subcode},
    )
    return HandoverError(handover_error_text(exc))


def thread_take(*, conversation: Conversation, actor: User) -> Conversation:
    """Take the thread back from the app that owns it (we are the Primary Receiver)."""
    try:
        _client(conversation, actor).take_thread_control(
            recipient_id=conversation.contact.external_id, metadata=METADATA
        )
    except GraphAPIError as exc:
        raise _failed(conversation=conversation, actor=actor, action="conversation.thread_take", exc=exc) from exc
    previous = conversation.thread_owner_app_id
    with transaction.atomic():
        thread_owner_record(conversation_ids=[conversation.pk], app_id=None, at=timezone.now())
        _changed(conversation=conversation, actor=actor, action="conversation.thread_take", previous_owner=previous)
    conversation.thread_owner_app_id = ""
    return conversation


def thread_pass(*, conversation: Conversation, actor: User, target_app_id: str = PAGE_INBOX_APP_ID) -> Conversation:
    """Pass the thread to another app (Page Inbox unless told), e.g. for a person to answer in Meta's inbox."""
    try:
        _client(conversation, actor).pass_thread_control(
            recipient_id=conversation.contact.external_id, target_app_id=target_app_id, metadata=METADATA
        )
    except GraphAPIError as exc:
        raise _failed(conversation=conversation, actor=actor, action="conversation.thread_pass", exc=exc) from exc
    with transaction.atomic():
        thread_owner_record(conversation_ids=[conversation.pk], app_id=target_app_id, at=timezone.now())
        _changed(
            conversation=conversation, actor=actor, action="conversation.thread_pass", target_app_id=target_app_id,
            target=handover_app_name(target_app_id),
        )
    conversation.thread_owner_app_id = owner_value(target_app_id)
    return conversation


def thread_owner_refresh(*, conversation: Conversation, actor: User | None = None) -> str:
    """Ask Meta who owns the thread now (``GET /{page}/thread_owner``); returns the kept value."""
    try:
        answer = _client(conversation, actor).thread_owner(recipient_id=conversation.contact.external_id)
    except GraphAPIError as exc:
        raise HandoverError(handover_error_text(exc)) from exc
    data = answer.get("data") or []
    first = data[0] if data and isinstance(data[0], dict) else {}
    app_id = str((first.get("thread_owner") or {}).get("app_id") or "")
    # Meta answers an empty list when nobody has taken the thread: the Primary Receiver has it.
    changed = thread_owner_record(conversation_ids=[conversation.pk], app_id=app_id or None, at=timezone.now())
    if changed:
        publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation.pk])
    conversation.thread_owner_app_id = owner_value(app_id) if app_id else ""
    return conversation.thread_owner_app_id


def thread_owned_elsewhere(*, conversation: Conversation) -> None:
    """Meta refused a reply because another app owns the thread (10/2018300): remember it now."""
    owner = conversation.thread_owner_app_id or UNKNOWN_APP
    if thread_owner_record(conversation_ids=[conversation.pk], app_id=owner, at=timezone.now()):
        publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation.pk])
    conversation.thread_owner_app_id = owner
