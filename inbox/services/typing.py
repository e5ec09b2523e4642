"""The customer sees "typing…" while an agent writes: `typing_on` / `typing_off` sender actions.

The browser tells us on every burst of keystrokes; at most one `typing_on` a conversation goes to
Meta per `TYPING_THROTTLE_SECONDS` (Meta shows the indicator for a while on its own), whoever of the
team types. `typing_off` goes only after a `typing_on` this throttle let through. Best effort: the
task logs a failure and never retries (a late indicator is worse than none).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.cache import cache

from config.tasks import enqueue_on_commit
from inbox.reply_window import reply_window

if TYPE_CHECKING:
    from inbox.models import Conversation

logger = logging.getLogger(__name__)

TYPING_THROTTLE_SECONDS = 10
TYPING_ACTIONS = ("typing_on", "typing_off")


def _key(conversation_id: int) -> str:
    return f"inbox:typing:{conversation_id}"


def conversation_typing(*, conversation: Conversation, action: str = "typing_on") -> bool:
    """Queue the sender action unless the throttle holds it; True when one was queued."""
    if action not in TYPING_ACTIONS:
        raise ValueError(f"Unknown typing action {action!r}.")
    if action == "typing_on":
        if not cache.add(_key(conversation.pk), "1", timeout=TYPING_THROTTLE_SECONDS):
            return False
    elif not cache.delete(_key(conversation.pk)):
        return False  # no indicator of ours is showing
    enqueue_on_commit("inbox.tasks.sender_action_send", conversation.pk, action)
    return True


def sender_action_deliver(*, conversation_id: int, action: str) -> bool:
    """Send one typing sender action; a failure (or a closed window) is only logged."""
    from inbox.models import Conversation
    from social.graph import GraphAPIError
    from social.services import account_graph_client

    conversation = (
        Conversation.objects.select_related("account", "account__page", "contact").filter(pk=conversation_id).first()
    )
    if conversation is None or action not in TYPING_ACTIONS or not reply_window(conversation=conversation).allowed:
        return False
    try:
        account_graph_client(conversation.account).send_sender_action(
            recipient_id=conversation.contact.external_id, action=action
        )
    except GraphAPIError as exc:
        logger.info("%s for conversation %s failed: %s", action, conversation_id, getattr(exc, "message", exc))
        return False
    return True
