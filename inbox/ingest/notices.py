"""Platform notices: what Meta tells staff about a Page or a thread, which no customer wrote.

- ``policy_enforcement`` (``account_notice_apply``): Meta warned or blocked the Page, or lifted a
  block. Recorded on the account (``SocialAccount.policy_*``); the inbox shows a banner for a block
  and a quieter note for a warning until staff dismiss it or Meta lifts it. An enforcement older
  than the one recorded changes nothing, so a late redelivery never brings back a lifted block.
- ``app_roles``: the apps of the Page and their Handover roles, kept in the account's settings.
- Handover changes and opt-ins (``thread_notice_apply``): one line in the customer's thread (a
  ``ChatMessage`` of kind ``notice``), stored once however often Meta delivers it: its key is made
  from the item's own content. A notice is read from the start and moves no counter.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inbox.facebook.events import AppRoles, OptIn, PolicyEnforcement, ThreadControl
from inbox.ingest.changes import Touched, touched
from inbox.ingest.conversations import conversations_get_or_create, customer_id
from inbox.models import ChatMessage, Conversation
from inbox.services.handover import handover_event_apply
from inbox.text import clean_text
from social.models import POLICY_BLOCK, POLICY_WARNING, SocialAccount

logger = logging.getLogger(__name__)

POLICY_UNBLOCK = "unblock"
REASON_LENGTH = 2000
METADATA_LENGTH = 200
# Meta's own Page inbox (Meta Business Suite), as the Handover Protocol names it.
PAGE_INBOX_APP_ID = "263902037430900"


def account_notice_apply(account: SocialAccount, event: PolicyEnforcement | AppRoles) -> Touched:
    """Record a policy enforcement or the Page's app roles on the account; nothing in any thread."""
    if isinstance(event, AppRoles):
        _app_roles_record(account, event)
        return Touched()
    when = event.timestamp or timezone.now()
    # Only an enforcement at least as recent as the recorded one counts (redeliveries arrive late).
    current = SocialAccount.objects.filter(pk=account.pk).filter(Q(policy_at__isnull=True) | Q(policy_at__lte=when))
    if event.action in (POLICY_BLOCK, POLICY_WARNING):
        log = logger.error if event.action == POLICY_BLOCK else logger.warning
        log("Meta's policy enforcement on account %s: %s", account.pk, event.action)
        current.update(
            policy_action=event.action, policy_reason=clean_text(event.reason)[:REASON_LENGTH], policy_at=when
        )
    elif event.action == POLICY_UNBLOCK:
        logger.warning("Meta lifted its policy enforcement on account %s", account.pk)
        current.update(policy_action="", policy_reason="", policy_at=when)
    else:
        logger.warning("Unknown policy enforcement action on account %s; ignored", account.pk)
    return Touched()


def _app_roles_record(account: SocialAccount, event: AppRoles) -> None:
    logger.info("The Handover roles of account %s changed", account.pk)
    with transaction.atomic():
        row = SocialAccount.objects.select_for_update().only("pk", "settings").get(pk=account.pk)
        settings = dict(row.settings or {})
        settings["app_roles"] = {str(app): roles for app, roles in event.roles.items()}
        SocialAccount.objects.filter(pk=account.pk).update(settings=settings)


def thread_notice_apply(
    account: SocialAccount, event: ThreadControl | OptIn, conversations: Mapping[str, Conversation] | None = None
) -> Touched:
    """Add the line for a handover change or an opt-in to the customer's thread (created if new)."""
    customer = customer_id(event)
    if not customer:
        # The checkbox plugin's opt-in names a user_ref, not a person of this Page: no thread yet.
        logger.info("Webhook %s for account %s names no customer; not shown", type(event).__name__, account.pk)
        return Touched()
    when = event.timestamp or timezone.now()
    conversation = (conversations or {}).get(customer)
    if conversation is None:
        conversation = conversations_get_or_create(account=account, first_seen={customer: when}).get(customer)
    if conversation is None:  # pragma: no cover - get_or_create always returns it
        return Touched()
    key = notice_key(event)
    if ChatMessage.objects.filter(account=account, message_id=key).exists():
        return Touched()
    text, extra = notice_text(event)
    try:
        with transaction.atomic():
            row = ChatMessage.objects.create(
                business_id=account.business_id,
                platform=account.platform,
                account=account,
                conversation=conversation,
                message_id=key,
                direction=ChatMessage.Direction.INBOUND,
                kind=ChatMessage.Kind.NOTICE,
                source=ChatMessage.Source.META,
                sender_id=event.sender_id,
                content=text,
                timestamp=when,
                status=ChatMessage.Status.RECEIVED,
                is_read=True,
                read_at=when,
                extra=extra,
            )
    except IntegrityError:  # another worker stored the same notice a moment ago
        return Touched()
    changes = touched(conversation_id=conversation.pk, message_ids=[row.pk])
    if isinstance(event, ThreadControl) and handover_event_apply(
        conversation=conversation, kind=event.kind, new_owner_app_id=event.new_owner_app_id,
        previous_owner_app_id=event.previous_owner_app_id, at=when,
    ):
        changes.pane_ids.add(conversation.pk)  # the header's "Thread: …" chip changes
    return changes


def notice_key(event: ThreadControl | OptIn) -> str:
    """A stable id for the notice's row: Meta's item as received, hashed (it carries no id of its own)."""
    kind = event.kind if isinstance(event, ThreadControl) else "optin"
    digest = hashlib.sha256(json.dumps(event.raw, sort_keys=True, default=str).encode()).hexdigest()[:40]
    return f"notice.{kind}.{digest}"


def _app(app_id: str | None) -> str:
    if app_id == PAGE_INBOX_APP_ID:
        return "Meta's Page inbox"
    if app_id and app_id == str(django_settings.FACEBOOK_APP_ID):
        return "this inbox"
    return f"app {app_id}" if app_id else "another app"


def notice_text(event: ThreadControl | OptIn) -> tuple[str, dict]:
    """What the thread shows for the notice, and what is kept with it (never a token)."""
    if isinstance(event, ThreadControl):
        extra = {
            "notice": event.kind,
            "new_owner_app_id": event.new_owner_app_id,
            "previous_owner_app_id": event.previous_owner_app_id,
            "requested_owner_app_id": event.requested_owner_app_id,
            "metadata": clean_text(event.metadata)[:METADATA_LENGTH],
        }
        if event.kind == "pass_thread_control":
            text = f"Thread control passed to {_app(event.new_owner_app_id)}"
            if event.previous_owner_app_id:
                text += f" by {_app(event.previous_owner_app_id)}"
        elif event.kind == "take_thread_control":
            text = f"Thread control taken from {_app(event.previous_owner_app_id)}"
            if event.new_owner_app_id:
                text += f" by {_app(event.new_owner_app_id)}"
        else:
            app = _app(event.requested_owner_app_id)
            text = f"{app[:1].upper()}{app[1:]} asked for thread control"
        if extra["metadata"]:
            text += f" ({extra['metadata']})"
        return text, extra
    extra = {"notice": "optin", "type": event.type, "ref": event.ref, "title": event.title, "status": event.status}
    if event.type == "notification_messages":
        if event.status == "STOP_NOTIFICATIONS":
            text = "The customer stopped marketing messages"
        elif event.status == "RESUME_NOTIFICATIONS":
            text = "The customer resumed marketing messages"
        else:
            text = "The customer opted in to marketing messages"
    elif event.type == "one_time_notif_req":
        text = "The customer asked to be notified"
    else:
        text = "The customer opted in"
    detail = event.title or event.ref
    if detail:
        text += f": {clean_text(detail)[:METADATA_LENGTH]}"
    return text, extra
