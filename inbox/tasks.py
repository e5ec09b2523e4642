"""Celery tasks of the inbox: thin interfaces that load ids, call services and own the retry policy.

Every task is idempotent (acks are late, so a killed worker's task runs again elsewhere).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def _backoff(retries: int, *, base: int = 2, cap: int = 300) -> int:
    return min(cap, base ** (retries + 1))


# --- receive (webhook events, attachments, profiles) ----------------------------------------------


@shared_task(bind=True, name="inbox.tasks.webhook_events_drain", max_retries=None, acks_late=True)
def webhook_events_drain(self) -> int:
    """Apply the pending webhook events in batches (woken by the endpoint; see the service)."""
    from inbox.services.webhooks import webhook_events_drain as drain

    try:
        return drain()
    except DATABASE_UNAVAILABLE as exc:
        # Database down, or a deadlock with another drain (rolled back, so at once): the events
        # are still pending. Without a retry cap: the requeue task would wake a drain anyway.
        deadlock = "deadlock" in str(exc).lower()
        logger.warning("Webhook drain: database unavailable (%s); retrying", exc)
        countdown = 0 if deadlock else _backoff(min(self.request.retries, 8))
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(bind=True, name="inbox.tasks.webhook_event_process", max_retries=8, acks_late=True)
def webhook_event_process(self, event_id: int) -> None:
    """Apply one stored webhook event (replays by id). A permanent problem is recorded on the row."""
    from inbox.models import WebhookEvent
    from inbox.services.webhooks import webhook_event_process as process

    try:
        event = process(event_id=event_id)
    except DATABASE_UNAVAILABLE as exc:
        # Database down, or a deadlock with another worker: the event is still pending; try again.
        logger.warning("Webhook event %s: database unavailable (%s); retrying", event_id, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    if event is None and WebhookEvent.objects.filter(pk=event_id, state=WebhookEvent.State.PENDING).exists():
        # Another session holds the row (possibly a killed worker's, until PostgreSQL notices):
        # look again soon rather than wait for the requeue task.
        raise self.retry(countdown=5)


@shared_task(bind=True, name="inbox.tasks.attachment_download", max_retries=4, acks_late=True)
def attachment_download(self, attachment_id: int) -> None:
    """Copy one attachment into storage; after the last retry it is FAILED with the error kept."""
    from inbox.models import Attachment
    from inbox.services.media import attachment_download as download
    from inbox.services.media import attachment_mark_failed
    from social.graph import GraphAPIError, TransientGraphError

    attachment = (
        Attachment.objects.select_related("message__account__page").filter(pk=attachment_id).first()
    )
    if attachment is None:
        return
    try:
        download(attachment=attachment)
    except DATABASE_UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except GraphAPIError as exc:
        transient = isinstance(exc, TransientGraphError)
        if transient and self.request.retries < self.max_retries:
            countdown = getattr(exc, "retry_after", None) or _backoff(self.request.retries, base=3)
            raise self.retry(exc=exc, countdown=countdown) from exc
        attachment_mark_failed(attachment_id=attachment_id, error=_describe(exc))
    except Exception as exc:
        # Storage errors and the like: worth another try, then recorded.
        logger.exception("Attachment %s download failed", attachment_id)
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=3)) from exc
        attachment_mark_failed(attachment_id=attachment_id, error=_describe(exc))


@shared_task(bind=True, name="inbox.tasks.contact_profile_fetch", max_retries=4, acks_late=True)
def contact_profile_fetch(self, contact_id: int) -> None:
    """Fetch the sender's name and picture; a failure only leaves the id showing."""
    from inbox.models import Contact
    from inbox.services.contacts import contact_profile_fetch as fetch
    from inbox.services.contacts import contact_profile_mark_failed
    from social.graph import GraphAPIError, TransientGraphError

    contact = Contact.objects.select_related("account__page").filter(pk=contact_id).first()
    if contact is None or contact.profile_state == Contact.ProfileState.FETCHED:
        return
    try:
        fetch(contact=contact)
    except DATABASE_UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except GraphAPIError as exc:
        if isinstance(exc, TransientGraphError) and self.request.retries < self.max_retries:
            countdown = getattr(exc, "retry_after", None) or _backoff(self.request.retries, base=3)
            raise self.retry(exc=exc, countdown=countdown) from exc
        contact_profile_mark_failed(contact=contact, error=_describe(exc))
    except Exception as exc:
        logger.exception("Profile lookup of contact %s failed", contact_id)
        contact_profile_mark_failed(contact=contact, error=_describe(exc))


@shared_task(name="inbox.tasks.webhook_events_requeue_stale")
def webhook_events_requeue_stale() -> int:
    """Periodic: hand pending events whose task was lost (broker outage) to a worker again."""
    from inbox.services.webhooks import webhook_events_requeue_stale as requeue

    return requeue()


@shared_task(name="inbox.tasks.attachments_retry_failed")
def attachments_retry_failed() -> int:
    """Periodic: retry failed downloads that may still succeed, and pending ones whose task was lost."""
    from inbox.services.media import attachments_retry_failed as retry_failed

    return retry_failed()


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    prefix = f"{type(exc).__name__}" + (f" (code {code})" if code is not None else "")
    return f"{prefix}: {exc}"


# --- send (replies, read receipts to Meta) ---------------------------------------------------------


@shared_task(bind=True, name="inbox.tasks.message_send", max_retries=5, acks_late=True)
def message_send(self, message_id: int) -> str:
    """Send one queued reply. A transient Meta error retries the same row; it is never sent twice."""
    from inbox.services.replies import ReplyRetryLater, reply_deliver, reply_give_up

    try:
        return reply_deliver(message_id=message_id)
    except DATABASE_UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except ReplyRetryLater as exc:
        if self.request.retries >= self.max_retries:
            reply_give_up(message_id=message_id, error=str(exc))
            return "failed"
        raise self.retry(exc=exc, countdown=exc.countdown) from exc


@shared_task(name="inbox.tasks.conversation_mark_seen", acks_late=True)
def conversation_mark_seen(conversation_id: int) -> bool:
    """Best effort: tell Meta the page has seen the customer's messages."""
    from inbox.services.conversations import conversation_send_seen

    return conversation_send_seen(conversation_id=conversation_id)
