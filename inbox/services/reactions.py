"""Staff react to a customer's message as the page: stored on the message, audited, pushed to open
screens, and sent to Meta as a `react` / `unreact` sender action (docs/messenger-platform.md, "Richer
replies") by the `message_reaction_send` task, whose retries are Celery's.

The task sends the reaction the row holds when it runs, so a quick react-then-remove ends as removed
on Meta's side too, however the two tasks interleave.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import ChatMessage
from inbox.realtime import publish_on_commit
from inbox.reply_window import reply_window

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# What the composer's picker offers (Messenger's own reaction set).
REACTIONS = ("❤️", "👍", "😂", "😮", "😢", "😡")


class ReactionError(Exception):
    """A reaction that cannot be given as asked; the message is shown to staff as it is."""


def _check(message: ChatMessage) -> None:
    if (message.direction != ChatMessage.Direction.INBOUND or message.kind != ChatMessage.Kind.MESSAGE
            or not message.message_id or message.is_deleted):
        raise ReactionError("Only a customer's message can get the page's reaction.")
    if message.platform != "FACEBOOK":
        raise ReactionError("Reactions from the page can be sent on Messenger only.")
    window = reply_window(conversation=message.conversation)
    if not window.allowed:
        # Sender actions follow the messaging window: Meta would refuse it.
        raise ReactionError(window.reason)


def message_react(*, message: ChatMessage, user: User, reaction: str) -> ChatMessage:
    """Set the page's reaction to a customer's message (replacing any earlier one)."""
    if reaction not in REACTIONS:
        raise ReactionError(f"Pick one of {' '.join(REACTIONS)}.")
    _check(message)
    return _set(message=message, user=user, reaction=reaction)


def message_unreact(*, message: ChatMessage, user: User) -> ChatMessage:
    """Take the page's reaction away."""
    if not message.page_reaction:
        raise ReactionError("The page has not reacted to this message.")
    _check(message)
    return _set(message=message, user=user, reaction="")


def _set(*, message: ChatMessage, user: User, reaction: str) -> ChatMessage:
    with transaction.atomic():
        ChatMessage.objects.filter(pk=message.pk).update(page_reaction=reaction)
        audit_record(
            action="message.reacted" if reaction else "message.unreacted", business=message.conversation.business,
            actor=user, target=message,
            metadata={"conversation_id": message.conversation_id, "reaction": reaction or message.page_reaction},
        )
        enqueue_on_commit("inbox.tasks.message_reaction_send", message.pk)
        publish_on_commit(
            business_id=message.business_id, conversation_ids=[message.conversation_id], message_ids=[message.pk]
        )
    message.page_reaction = reaction
    return message


def reaction_deliver(*, message_id: int) -> str:
    """Send the row's current page reaction to Meta: "react", "unreact" or "skipped".

    A transient Meta error propagates (the task retries); a permanent one is logged, the stored
    reaction stays (staff see what they chose; Meta's thread may differ).
    """
    from social.graph import GraphAPIError, TransientGraphError
    from social.services import account_graph_client

    message = (
        ChatMessage.objects.select_related("account", "account__page", "conversation__contact")
        .filter(pk=message_id, direction=ChatMessage.Direction.INBOUND).exclude(message_id=None).first()
    )
    if message is None:
        return "skipped"
    action = "react" if message.page_reaction else "unreact"
    payload = {"message_id": message.message_id}
    if message.page_reaction:
        payload["reaction"] = message.page_reaction
    try:
        account_graph_client(message.account).send_sender_action(
            recipient_id=message.conversation.contact.external_id, action=action, payload=payload
        )
    except TransientGraphError:
        raise
    except GraphAPIError as exc:
        logger.warning("Reaction on message %s refused by Meta: %s", message_id, getattr(exc, "message", exc))
        return "skipped"
    return action
