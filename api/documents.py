"""The JSON documents the REST API answers and outbound webhooks carry, in the seed's field names.

Plain functions of one row each, so the API and event payloads can never disagree. Keys are the
seed's fields in camelCase (socialAccounts, conversations, chatMessages) plus a few of our own
(`id`, `kind`, `labels`, …); enums are the models' stored values (`FACEBOOK` | `INSTAGRAM`, `open`,
`inbound`, …). Objects are named by their public UUID, never by an integer key, and the business by
its slug. Nothing here is ever a token.

To render a list without a query per row, load the rows with `select_related("business", "account")`
(messages also `"conversation"`, accounts also `"page"`), `.without_tokens()` for accounts, and call
`inbox.selectors.labels_prefetch` on conversations first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inbox.models import ChatMessage, Conversation
    from social.models import SocialAccount

# Page metadata worth showing from what Meta said about a page (the rest is either a token or noise).
_PAGE_KEYS = (
    "id", "name", "category", "category_list", "tasks", "link", "username", "fan_count", "followers_count",
    "profile_picture_url",
)


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _tokenless(value: Any) -> Any:
    """The value with every key that names a token dropped, however deep: settings are Meta's JSON."""
    if isinstance(value, dict):
        return {k: _tokenless(v) for k, v in value.items() if "token" not in str(k).lower()}
    if isinstance(value, list):
        return [_tokenless(v) for v in value]
    return value


def _pages(account: SocialAccount) -> dict:
    stored = (account.settings or {}).get("pages")
    if isinstance(stored, dict) and stored:
        return _tokenless({k: v for k, v in stored.items() if k in _PAGE_KEYS})
    # Accounts connected before the page's metadata was kept: what the row itself knows.
    return {
        "id": account.account_id,
        "name": account.account_name,
        "category": account.category,
        "category_list": list(account.category_list or []),
        "tasks": list(account.tasks or []),
        "link": (account.settings or {}).get("link", ""),
        "username": account.username,
        "fan_count": account.fan_count,
        "followers_count": account.followers_count,
    }


def account_document(acc: SocialAccount) -> dict:
    """One connected Page or Instagram account (seed: socialAccounts), without any token."""
    profile = (acc.settings or {}).get("profile")
    parent = acc.page if acc.page_id else None
    return {
        "id": str(acc.public_id),
        "platform": acc.platform,
        "accountId": acc.account_id,
        "accountName": acc.account_name,
        "username": acc.username,
        "expiresAt": _time(acc.expires_at),
        "settings": {
            "profile": _tokenless(profile) if isinstance(profile, dict) else {},
            "pages": _pages(acc),
        },
        "category": acc.category,
        "tasks": list(acc.tasks or []),
        "permissions": list(acc.permissions or []),
        "followersCount": acc.followers_count,
        "pictureUrl": acc.picture_url,
        "page": str(parent.public_id) if parent is not None else None,
        "isActive": acc.is_active,
        "status": acc.status,
        "humanAgentEnabled": acc.human_agent_enabled,
        "connectedAt": _time(acc.connected_at),
        "lastWebhookAt": _time(acc.last_webhook_at),
        "business": acc.business.slug,
        "createdAt": _time(acc.created_at),
        "updatedAt": _time(acc.updated_at),
    }


def conversation_document(conv: Conversation) -> dict:
    """One conversation (seed: conversations) with its state in the inbox: status, assignee, labels."""
    assignee = conv.assignee if conv.assignee_id else None
    return {
        "id": str(conv.public_id),
        "platform": conv.platform,
        "account": str(conv.account.public_id),
        "participantIds": list(conv.participant_ids or []),
        "participantNames": list(conv.participant_names or []),
        "lastMessageAt": _time(conv.last_message_at),
        "lastMessagePreview": conv.last_message_preview,
        "lastMessageDirection": conv.last_message_direction,
        "lastInboundAt": _time(conv.last_inbound_at),
        "unreadCount": conv.unread_count,
        "isActive": conv.is_active,
        "business": conv.business.slug,
        "status": conv.status,
        "snoozedUntil": _time(conv.snoozed_until),
        "priority": conv.priority,
        "assignee": {"email": assignee.email, "name": assignee.display_name} if assignee is not None else None,
        "labels": [label.name for label in conv.chip_labels],
        "createdAt": _time(conv.created_at),
        "updatedAt": _time(conv.updated_at),
    }


def message_document(msg: ChatMessage) -> dict:
    """One message (seed: chatMessages), inbound, outbound or a private note (direction `internal`)."""
    reply_to = msg.reply_to if msg.reply_to_id else None
    return {
        "id": str(msg.public_id),
        "platform": msg.platform,
        "account": str(msg.account.public_id),
        "conversation": str(msg.conversation.public_id),
        "messageId": msg.message_id,
        "direction": msg.direction,
        "kind": msg.kind,
        "source": msg.source,
        "senderId": msg.sender_id,
        "senderName": msg.sender_name,
        "content": "" if msg.is_deleted else msg.content,
        "mediaUrls": [] if msg.is_deleted else list(msg.media_urls or []),
        "timestamp": _time(msg.timestamp),
        "status": msg.status,
        "isRead": msg.is_read,
        "isReplied": msg.is_replied,
        "readAt": _time(msg.read_at),
        "replyTo": str(reply_to.public_id) if reply_to is not None else None,
        "reaction": msg.reaction,
        "isDeleted": msg.is_deleted,
        "error": msg.error,
        "errorCode": msg.error_code,
        "business": msg.business.slug,
        "createdAt": _time(msg.created_at),
    }
